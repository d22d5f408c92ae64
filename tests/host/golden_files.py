"""Golden-output checks: user-visible text compared with an expected file under tests/host/golden/.

Regenerate after an intended change of wording or layout (then review the diff like code):
    USOCKET_HIL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/host/test_golden_output.py
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).with_name("golden")
UPDATE_ENV = "USOCKET_HIL_UPDATE_GOLDEN"


def check_golden(name: str, text: str) -> None:
    """Assert `text` equals tests/host/golden/`name`; with USOCKET_HIL_UPDATE_GOLDEN=1, write it instead."""
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}; create it with {UPDATE_ENV}=1"
    assert text == path.read_text(), f"output differs from {path} (intended? regenerate with {UPDATE_ENV}=1)"
