"""Which kind of namespace pair this process can make: named (root) or user (`unshare -rn`), or none."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21
MODE_ENV = "USOCKET_HIL_NETNS"  # "named" or "user" forces a mode (tests of the unprivileged path)
_user_probe: tuple[bool, str] | None = None


def _cap_effective() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _probe_user_namespaces() -> tuple[bool, str]:
    """Can this user create a user+net namespace (`unshare -rn`)?  Probed once per process."""
    global _user_probe
    if _user_probe is None:
        missing = [t for t in ("unshare", "nsenter") if shutil.which(t) is None]
        if missing:
            _user_probe = (False, f"{' and '.join(missing)} (util-linux) not installed")
        else:
            try:
                res = subprocess.run(
                    ["unshare", "-rn", "ip", "link", "set", "lo", "up"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                ok, err = res.returncode == 0, (res.stderr or res.stdout).strip()
            except (OSError, subprocess.TimeoutExpired) as exc:
                ok, err = False, str(exc)
            _user_probe = (ok, "" if ok else f"unprivileged user namespaces unavailable ({err})")
    return _user_probe


def netns_mode() -> tuple[str | None, str]:
    """("named", "") as root; ("user", "") unprivileged via `unshare -rn`; (None, reason) if neither."""
    if not sys.platform.startswith("linux"):
        return None, f"network namespaces need Linux (this is {sys.platform})"
    if shutil.which("ip") is None:
        return None, "the `ip` command (iproute2) is not installed; install iproute2"
    if not Path("/proc/self/ns/net").exists():
        return None, "this kernel has no network namespaces (/proc/self/ns/net missing)"
    forced = os.environ.get(MODE_ENV, "")
    if forced not in ("", "named", "user"):
        return None, f"{MODE_ENV}={forced!r}: use 'named' or 'user'"
    caps = _cap_effective()
    missing = [
        n
        for n, bit in (("CAP_SYS_ADMIN", _CAP_SYS_ADMIN), ("CAP_NET_ADMIN", _CAP_NET_ADMIN))
        if not caps >> bit & 1
    ]
    if forced != "user" and os.geteuid() == 0 and not missing:
        return "named", ""
    if forced == "named":
        return None, "named network namespaces need root with CAP_SYS_ADMIN and CAP_NET_ADMIN"
    ok, why = _probe_user_namespaces()
    if ok:
        return "user", ""
    return None, (
        f"network namespaces need root (`ip netns add`) or unprivileged user namespaces, and {why}; "
        "run as root or use --no-network"
    )


def netns_support() -> tuple[bool, str]:
    """(usable, reason if not): root with iproute2, or unprivileged user namespaces."""
    mode, why = netns_mode()
    return mode is not None, why
