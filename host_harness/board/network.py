"""network kind: a board whose REPL is reached over the network -- wipy:// (a WiPy's telnet server) or
webrepl:// (WebREPL), the URL schemes of transport/urls/.  A serial board in everything but what the link
cannot do and what the firmware offers instead:

* where it is: the URL's host is the board's address; with `netns=` the host peers listen in that namespace
  (a virtual board's host side: nothing connects from the root namespace to a namespace address), and the
  host IP is that virtual board's when --peer-host does not name one;
* files: a WiPy takes them over its FTP server (netrepl/ftp.py; its telnet REPL refuses bytes > 127 and is
  slow for bulk data), into /flash/lib on a real WiPy (ports/cc3200/mptask.c puts /flash and /flash/lib on
  sys.path) and /lib on the virtual one, whose "/" is the flash volume;  the TLS CA goes over FTP too
  (install_ca: the network processor reads /flash/cert/ca.pem, which REPL writes never reach);
* firmware: a WiPy's is an FTP upload plus a reset, checked by the version that runs afterwards
  (netrepl/firmware.py), not esptool;
* reset: there are no DTR/RTS lines; a virtual board's hard reset is its supervisor's, a real one has none
  (the ladder stops at soft).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..boards import Board
from ..errors import HilError
from ..transport.urls import NETWORK_SCHEMES, scheme
from .find import check_same_target
from .serial import SerialBoard

WIPY_FLASH_LIB = "/flash/lib"  # ports/cc3200/mptask.c: sys.path is "", /flash, /flash/lib


def is_network_url(url: str | None) -> bool:
    return bool(url) and scheme(url) in NETWORK_SCHEMES


class NetworkBoard(SerialBoard):
    def __init__(self, definition: Board, url: str, *, running=None, **kwargs) -> None:
        super().__init__(definition, url, **kwargs)
        from ..transport.urls.network import board_ip_of, socket_factory_for

        self.running = running  # the virtual board whose services these are (find.by_port), if any
        self.ip = self.ip or board_ip_of(url)
        factory = socket_factory_for(url)
        if factory is not None:
            self.socket_factory = factory
        if self.running is not None:  # a virtual board's services: its board file is its identity
            self._check_target = False
            check_same_target(self.running, definition)
            if self.host_ip is None:
                self.host_ip = self.running.host_ip
        self.is_wipy = scheme(url) == "wipy"

    def describe(self) -> str:
        return f"{self.definition.name} on {self.url}"

    def hard_reset_action(self) -> Callable[[], object] | None:
        if self.running is None:
            return None  # no reset lines, and a hung REPL cannot run machine.reset()
        from ..virtual import manager

        running = self.running
        return lambda: manager.hard_reset(running.name, Path(running.state_dir))

    def _hard(self, deadline: float) -> str:
        if not self.session.can_hard_reset:
            raise HilError(f"{self.url} is a network REPL: no reset lines to pull (reset the board by hand)")
        self.session.hard_reset(deadline)
        return f"interpreter of {self.running.name} restarted, new login on {self.url}"

    # -- files and firmware over the firmware's servers -------------------------------------------------
    def lib_dir(self) -> str:
        """Where the board keeps libraries: /flash/lib when its sys.path says so (a real WiPy), else /lib."""
        from ..deploy import REMOTE_LIB

        if self.definition.target != "wipy":
            return REMOTE_LIB
        res = self.session.exec(f"import sys\nprint({WIPY_FLASH_LIB!r} in sys.path)", 10.0)
        return WIPY_FLASH_LIB if res.ok and res.text().strip() == "True" else REMOTE_LIB

    def deploy(self, *, force: bool = False, py: bool = False):
        from ..deploy import deploy_board

        lib = self.lib_dir()
        writer = None
        if self.is_wipy:
            from ..netrepl.ftp import deploy_writer

            # A real WiPy's REPL sees /flash as FTP does; the virtual one's "/" is FTP's /flash.
            writer = deploy_writer(self.url, "" if lib == WIPY_FLASH_LIB else "/flash")
        self.last_deploy = deploy_board(self.session, self.definition, self.extras, force=force, py=py,
                                        verify=self.verify, lib=lib, writer=writer)
        return self.last_deploy

    def install_ca(self, pem: str | bytes) -> bool:
        """Put a CA where the board's TLS verification reads it; False when its REPL writes do (not a WiPy)."""
        if not self.is_wipy:
            return False
        from ..netrepl.ftp import install_ca

        install_ca(self.url, pem)
        return True

    def update_firmware(self, image: bytes):
        """A WiPy firmware update (netrepl/firmware.py): upload, reset, the version after it (UpdateResult)."""
        if not self.is_wipy:
            raise HilError(f"{self.url}: only a WiPy (wipy://) takes firmware over the network")
        if self.definition.target != "wipy":
            raise HilError(f"board '{self.definition.name}' is target '{self.definition.target}'; wipy:// "
                           "updates WiPy boards only")
        from ..netrepl.firmware import update

        if self.session is not None:  # the update logs in itself; the board serves one client at a time
            self.session.close()
            self.session = None
        return update(self.url, image)

    def _flash(self, deadline: float) -> str:
        from ..netrepl.firmware import FirmwareError

        try:
            image = self.firmware.read_bytes()
        except OSError as exc:
            raise FirmwareError(f"cannot read {self.firmware}: {exc.strerror}") from None
        result = self.update_firmware(image)
        if not result.ok:
            raise FirmwareError(f"{self.firmware.name}: {result.summary()}")
        return f"{self.firmware.name}: {result.summary()}"
