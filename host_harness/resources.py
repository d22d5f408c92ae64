"""Where the device-side files and board definitions live: the checkout, or the installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent
# A wheel carries the device files under host_harness/_device (see pyproject's package-data);
# a checkout or an editable install uses the top-level folders directly.
_WHEEL_DATA = _PACKAGE / "_device"


def project_root() -> Path:
    """The folder holding usocket_port/, ports/, boards/ and tests/device/."""
    if (_CHECKOUT / "usocket_port").is_dir() and (_CHECKOUT / "boards").is_dir():
        return _CHECKOUT
    return _WHEEL_DATA


def core_dir() -> Path:
    return project_root() / "usocket_port"


def port_dir(target: str) -> Path:
    return project_root() / "ports" / target


def boards_dir() -> Path:
    return project_root() / "boards"


def device_tests_dir() -> Path:
    return project_root() / "tests" / "device"
