"""What a port URL allows: local device (reset lines, exclusive lock) or network URL (no reset lines)."""

from __future__ import annotations

import os

import serial

from ..transport.urls import refused_as_busy
from .errors import PortError

NETWORK_SCHEMES = ("socket://", "rfc2217://")


def is_socket(url: str) -> bool:
    """socket:// carries bytes only: no DTR/RTS, so esptool cannot reset the chip into download mode."""
    return url.startswith("socket://")


def is_network(url: str) -> bool:
    return url.startswith(NETWORK_SCHEMES)


SOCKET_NOTE = ("socket:// has no reset lines: the board must already be in download mode "
               "(esptool connects without resetting it)")


def check_port_url(url: str) -> None:
    """A URL that cannot be a board's port (unknown scheme, no PORT, an option pyserial refuses) is a PortError
    in the transport's words (transport/urls check_url), before esptool would call it busy or missing."""
    from ..errors import TransportError
    from ..transport.urls import check_url

    if "://" not in url:
        return  # a device path: check_local_port
    try:
        check_url(url)
    except TransportError as exc:
        raise PortError(str(exc)) from None


def check_local_port(url: str) -> None:
    """Refuse a local port that is missing or held by another program, before esptool touches it.

    pyserial's exclusive open takes an flock on the device; mpremote and esptool take the same lock,
    so a port another of them holds fails here with a clear message instead of a garbled flash.
    """
    if is_network(url):
        return
    if not os.path.exists(url):
        raise PortError(f"port {url} does not exist (`usocket-hil boards` lists attached boards)")
    probe = serial.Serial()
    probe.port = url
    probe.exclusive = True
    # Keep DTR/RTS released so the probe itself does not pulse an ESP auto-reset circuit.
    probe.dtr = False
    probe.rts = False
    try:
        probe.open()
    except (serial.SerialException, OSError) as exc:
        text = str(exc)
        if "lock" in text.lower() or "busy" in text.lower() or "Resource temporarily" in text:
            raise PortError(f"port {url} is busy: another program holds it "
                            "(close mpremote, a serial monitor or another flash run)") from None
        if "Permission denied" in text:
            raise PortError(f"no permission to open {url} (add yourself to the dialout group)") from None
        raise PortError(f"cannot open port {url}: {text}") from None
    finally:
        if probe.is_open:
            probe.close()


def open_failure(url: str, detail: str) -> PortError:
    """The PortError for a port that would not open: "port busy" when its server says so; for a network URL why
    pyserial could not open it (esptool says only "busy or doesn't exist"), in the transport's words; else
    `detail`."""
    if refused_as_busy(url):
        return PortError(f"cannot open port {url}: port busy (another client is connected)")
    if is_network(url):
        from ..transport.urls import explain_open_error, register

        register()
        try:
            serial.serial_for_url(url, timeout=2).close()
        except (serial.SerialException, OSError, ValueError) as exc:
            return PortError(explain_open_error(url, exc))
    return PortError(f"cannot open port {url}: {detail}")
