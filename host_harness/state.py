"""The state folder: running virtual boards' state files (virtual/manager.py), the test peers' RSA keys
(peers/keystore.py) and compiled .mpy files (mpy.py).  $USOCKET_HIL_STATE, default /tmp/usocket-hil-<uid>.

A module of its own, importing nothing of ours: the layers below the virtual boards use it too, and a pool's
threads reach it at once (plugin/pool.py).
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "USOCKET_HIL_STATE"
KEYS_FILE = "tls-keys.pem"  # peers/keystore.py
MPY_CACHE = "mpy-cache"  # mpy.py
KEPT = (KEYS_FILE, MPY_CACHE)  # what stays for later runs; the rest belongs to boards that run (or ran)


def state_dir() -> Path:
    env = os.environ.get(STATE_ENV)
    return Path(env) if env else Path(f"/tmp/usocket-hil-{os.getuid()}")
