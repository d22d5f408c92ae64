"""Board addresses are pyserial URLs; this package is where the harness's own URL schemes live.

pyserial opens `scheme://...` by importing `<package>.protocol_<scheme>` from each entry of
`serial.protocol_handler_packages` (pyserial's serial/__init__.py, serial_for_url).  `register()` puts this
package first in that list, so a transport for a new scheme (telnet://, webrepl://, ...) is one new module
here, `protocol_<scheme>.py` with a `Serial` class, and every layer above (mpremote, BoardSession, esptool in
flash/, the board layer, the CLI) reaches it unchanged.  Built into pyserial: a device path, socket://,
rfc2217://, loop://; being first, a module here also replaces pyserial's own handler for its scheme:
protocol_rfc2217.py (line settings sent only when they change).  register() is the one registration point;
the two places that open ports call it (transport/mpremote_adapter.py, flash/writer.py for esptool).

Ours: wipy://HOST[:23][?user=&password=&netns=] (WiPy 1.0 telnet REPL, protocol_wipy.py) and
webrepl://HOST[:8266][?password=&netns=] (WebREPL, protocol_webrepl.py), both over netserial.NetSerial;
network.py parses their URLs and connects (in the URL's `netns=` namespace when given).

`check_url()` refuses malformed URLs with one line saying what to write, before pyserial turns them into
messages about its internals (e.g. `socket://bad` -> "'<=' not supported between 'int' and 'NoneType'").
"""

from __future__ import annotations

import errno
import os
import socket
import urllib.parse

import serial

from ...errors import TransportError

PACKAGE = __name__
# Schemes whose URL must be HOST:PORT (pyserial's protocol_socket / protocol_rfc2217 parse it unchecked).
HOST_PORT_SCHEMES = ("socket", "rfc2217")
# The query options pyserial accepts for them (serial/urlhandler/protocol_socket.py and serial/rfc2217.py
# from_url); with a value from a fixed set where pyserial looks it up in a table (LOGGER_LEVELS).
_LOG_LEVELS = ("debug", "info", "warning", "error")
URL_OPTIONS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "socket": {"logging": _LOG_LEVELS},
    "rfc2217": {"logging": _LOG_LEVELS, "ign_set_control": None, "poll_modem": None, "timeout": None},
}
# Ours that reach a board's REPL over the network (protocol_<scheme>.py over netserial.NetSerial): the URL's
# host is the board's address (board/network.py drives such boards).
NETWORK_SCHEMES = ("wipy", "webrepl")


def register() -> None:
    """Make pyserial find this package's protocol handlers before its own (idempotent; process-wide)."""
    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.insert(0, PACKAGE)


def scheme(url: str) -> str | None:
    return url.split("://", 1)[0].lower() if "://" in url else None


def check_url(url: str) -> None:
    """A TransportError naming the fix when `url` cannot be a board address; None when it may be one."""
    if not url or not url.strip():
        raise TransportError("the port is empty: give a device (/dev/ttyUSB0), a pty path or a URL "
                             "(socket://HOST:PORT, rfc2217://HOST:PORT)")
    kind = scheme(url)
    if kind is None:
        if not os.path.exists(url):
            raise TransportError(f"cannot open {url}: no such port (is the board plugged in? "
                                 "`usocket-hil boards` lists attached ports and running virtual boards)")
        return
    if kind in HOST_PORT_SCHEMES:
        parts = urllib.parse.urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or not 0 < port < 65536:
            raise TransportError(f"cannot open {url}: a {kind}:// port must be {kind}://HOST:PORT "
                                 f"with PORT 1-65535 (e.g. {kind}://127.0.0.1:2217)")
        _check_options(url, kind, parts.query)
        return
    register()
    if not any(_has_handler(pkg, kind) for pkg in serial.protocol_handler_packages):
        raise TransportError(f"cannot open {url}: unknown URL scheme {kind}:// (use a device path, "
                             "socket://HOST:PORT, rfc2217://HOST:PORT, wipy://IP or webrepl://IP)")


def _check_options(url: str, kind: str, query: str) -> None:
    known = URL_OPTIONS[kind]
    for option, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if option not in known:
            raise TransportError(f"cannot open {url}: {kind}:// takes no option {option!r} (it takes "
                                 f"{', '.join(known)}; e.g. {kind}://127.0.0.1:2217?logging=debug)")
        choices = known[option]
        if choices is not None and values[-1] not in choices:
            raise TransportError(f"cannot open {url}: {option}= must be one of {', '.join(choices)}")
        if option == "timeout":
            try:
                ok = float(values[-1]) > 0
            except ValueError:
                ok = False
            if not ok:
                raise TransportError(f"cannot open {url}: timeout= must be a positive number of seconds")


def _has_handler(package: str, kind: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(f"{package}.protocol_{kind}") is not None
    except (ImportError, ValueError):  # a package in the list that does not import
        return False


def refused_as_busy(url: str, timeout: float = 2.0) -> bool:
    """Whether the RFC2217/TCP server at `url` turns a new client away as busy: the harness's bridge and
    ser2net serve one client and tell a second one so in plain text before closing (that second client's
    open then fails as a bare "Broken pipe").  One short connection to the address the user gave."""
    if scheme(url) not in HOST_PORT_SCHEMES:
        return False
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname or not port:
        return False
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            said = sock.recv(256)
    except OSError:
        return False
    return b"busy" in said.lower() or b"in use" in said.lower()


def explain_open_error(url: str, exc: BaseException) -> str:
    """pyserial's open failure as one line that says what to do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    err = getattr(exc, "errno", None)
    if (err in (errno.EPIPE, errno.ECONNRESET) or "Broken pipe" in text) and refused_as_busy(url):
        return f"cannot open {url}: port busy (another client is connected)"
    if "waiting for option 'control'" in text:  # a server that speaks no RFC2217 line control: ser2net on a pty
        return (f"cannot open {url}: {text[:120]} (a server without line control, e.g. ser2net on a pty, "
                "needs ?ign_set_control in the URL)")
    if "exclusively lock" in text or err in (errno.EBUSY, errno.EAGAIN):
        return f"cannot open {url}: the port is busy (another program has it open: close it and retry)"
    if err == errno.EACCES or "Permission denied" in text:
        return (f"cannot open {url}: permission denied (add your user to the group owning the device, "
                "e.g. `dialout`, then log in again)")
    if err == errno.ENOENT or "No such file" in text:
        return f"cannot open {url}: no such port (is the board plugged in? see `usocket-hil boards`)"
    if err == errno.ENOTTY or "Inappropriate ioctl" in text:
        return f"cannot open {url}: it is not a serial port (give the board's tty, e.g. /dev/ttyUSB0)"
    if err == errno.ECONNREFUSED or "Connection refused" in text:
        return f"cannot open {url}: connection refused (is the board's server running on that port?)"
    if "timed out" in text:
        return f"cannot open {url}: no answer (check the host and port)"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return f"cannot open {url}: unknown host name (use a numeric address or localhost)"
    return f"cannot open {url}: {text[:160]}"
