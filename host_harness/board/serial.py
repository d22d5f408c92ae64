"""serial kind: a board on a port URL (a device, a pty, socket://, rfc2217://, or a scheme of transport/urls/),
driven through host_harness.transport.BoardSession.

Bring-up: flashed (only with a firmware image: esptool, host_harness.flash; the boot output after its hard
reset is judged there, flash/bootcheck.py, since it is only on the port esptool still holds) -> booted (the boot
verdict, then port opened, raw REPL entered, identity: target checked against the board file) -> deployed (the
deploy set, host_harness.deploy) -> online (Wi-Fi joined through the glue when asked; the board's IP read).
Reset rungs: interrupt (Ctrl-C), soft (Ctrl-D), hard (DTR/RTS pulse, ESP auto-reset wiring; on a port that
carries the ROM's output -- a device or rfc2217:// -- of a board with a [flash] table the boot is watched too,
so a boot loop is "not booting", not "no prompt").  No real board was available where this was written: the
path is exercised against virtual boards' ptys and the virtual ESP32 over rfc2217:// (virtual.py is this class
with more rungs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..boards import Board
from ..errors import HilError
from ..transport.result import ExecResult
from .base import Log, RunningBoard
from .identify import check_target, read_facts

# Asks the board for its IP without assuming a port: WLAN station, then LAN, then nothing.
_IP_PROBE = """
def _hil_ip():
    try:
        import network
    except ImportError:
        return None
    for make in (lambda: network.WLAN(network.STA_IF), lambda: network.LAN()):
        try:
            nic = make()
            if nic.isconnected():
                return nic.ifconfig()[0]
        except Exception:
            pass
    return None
print(repr(_hil_ip()))
del _hil_ip
"""

WLAN_TIMEOUT_MS = 20000  # station join + DHCP on a real board
BOOT_DEADLINE_S = 15.0
DEPLOY_DEADLINE_S = 120.0
ONLINE_DEADLINE_S = WLAN_TIMEOUT_MS / 1000 + 15
FLASH_DEADLINE_S = 600.0
RUNG_DEADLINE_S = 10.0


class SerialBoard(RunningBoard):
    def __init__(self, definition: Board, url: str, *, extras: Iterable[Path] = (), deploy: bool = True,
                 verify: Iterable[str] | None = None, peer_host: str | None = None, board_ip: str | None = None,
                 wlan: tuple[str, str] | None = None, firmware: Path | None = None, open_timeout: float = 5.0,
                 check_target: bool = True, online: bool = True, enter_raw: bool = True,
                 log: Log | None = None, flash_log_dir: Path | None = None) -> None:
        super().__init__(definition, log=log)
        self.url = url
        self.extras = [Path(p) for p in extras]
        self.verify = list(verify) if verify is not None else None
        self.host_ip = peer_host
        self.ip = board_ip
        self.wlan = wlan
        self.firmware = firmware
        self.flash_log_dir = flash_log_dir or Path("reports") / "flash"  # as `usocket-hil flash`
        self.last_flash = None  # the FlashResult of the flashed step
        self.open_timeout = open_timeout
        self.session = None
        self._check_target = check_target
        self._enter_raw = enter_raw
        self.last_deploy = None  # the DeployReport of the last deploy step
        if firmware is not None:
            self.bring_up.add("flashed", self._flash, FLASH_DEADLINE_S)
        self.bring_up.add("booted", self._boot, BOOT_DEADLINE_S)
        if deploy:
            self.bring_up.add("deployed", self._deploy, DEPLOY_DEADLINE_S)
        if online:
            self.bring_up.add("online", self._online, ONLINE_DEADLINE_S)
        self.ladder.add("interrupt", self._interrupt, RUNG_DEADLINE_S)
        self.ladder.add("soft", self._soft, RUNG_DEADLINE_S)
        self.ladder.add("hard", self._hard, RUNG_DEADLINE_S + open_timeout)

    def describe(self) -> str:
        return f"{self.definition.name} on {self.url}"

    def hard_reset_action(self) -> Callable[[], object] | str | None:
        """The session's last recovery step for a hung board: pulse the ESP auto-reset lines."""
        return "dtr-rts"

    # -- bring-up steps -----------------------------------------------------------------------------------
    def _flash(self, deadline: float) -> str:
        """esptool writes the image and hard-resets; the boot output is judged (bootcheck.py).  The REPL
        identity is the booted step's, so flash_boards' own identity step is not run twice."""
        from ..flash import FlashOptions, flash_boards, load_image
        from ..flash.summary import failure_line

        results = flash_boards(self.definition, [self.url], load_image(self.firmware, self.definition),
                               options=FlashOptions(deadline_s=deadline), log_dir=self.flash_log_dir,
                               identity=False)
        self.last_flash = result = results[0]
        if not result.ok:
            raise HilError(f"flashing {self.firmware.name}: {failure_line(result)} (log: {result.log_path})")
        return f"{self.firmware.name}: {result.outcome}"

    def open_session(self, deadline: float) -> None:
        from ..transport.session import BoardSession

        if self.session is not None:
            self.session.close()
        self.session = BoardSession(self.url, hard_reset=self.hard_reset_action(), enter_raw=self._enter_raw,
                                    open_timeout=min(self.open_timeout, deadline))

    def _boot(self, deadline: float) -> str:
        from ..flash.bootcheck import boot_line

        boot = (self.last_flash.boot or {}) if self.last_flash is not None else {}
        seen = f"{boot_line(boot['status'], boot['reason'])}; " if boot else ""
        self.open_session(deadline)
        if not self._check_target or not self._enter_raw:
            return f"{seen}{'raw REPL' if self._enter_raw else 'port open'} on {self.url}"
        impl, platform, machine = read_facts(self.session)
        if self.definition.is_virtual:
            self._check_virtual_identity(impl, platform, machine)
        else:
            check_target(self.definition, impl, platform, machine, self.url)
        return f"{seen}identity {impl} on {platform} ({machine})"

    def _check_virtual_identity(self, impl: str, platform: str, machine: str) -> None:
        """A virtual board behind a port nobody registered (the virtual ESP32's RFC2217 bridge, ser2net): its
        sys.platform is the host's, so the board file's expect_implementation / expect_machine are its
        identity, as for `usocket-hil flash` (flash/identity.py)."""
        from ..flash.identity import Identity, check_identity
        from .identify import TargetMismatch

        problems = check_identity(self.definition, Identity(impl, "", machine, platform))
        if problems:
            raise TargetMismatch(f"the board at {self.url} is not a {self.definition.name}: "
                                 f"{'; '.join(problems)}; nothing was written")

    def _deploy(self, deadline: float) -> str:
        return self.deploy().summary()

    def deploy(self, *, force: bool = False, py: bool = False):
        """Deploy the board's set (host_harness.deploy) over the session; returns the DeployReport."""
        from ..deploy import deploy_board

        self.last_deploy = deploy_board(self.session, self.definition, self.extras, force=force, py=py,
                                        verify=self.verify)
        return self.last_deploy

    def _online(self, deadline: float) -> str:
        """Join --wlan-ssid through the glue's connect_network (its own timeout); again after every reset,
        since some ports drop the station on soft reset.  Then read the board's IP if not given."""
        if self.wlan is not None:
            ssid, key = self.wlan
            code = (f"import usocket_target\nprint(repr(usocket_target.connect_network({ssid!r}, {key!r}, "
                    f"{WLAN_TIMEOUT_MS})))")
            res = self.session.exec(code, min(deadline, WLAN_TIMEOUT_MS / 1000 + 10))
            if not res.ok:
                raise HilError(f"joining Wi-Fi {ssid!r} failed: {res.summary()}")
            self.ip = res.text().strip().strip("'\"")
            return f"joined Wi-Fi {ssid!r} as {self.ip}"
        if self.ip is None:
            res = self.session.exec(_IP_PROBE, min(deadline, 10.0))
            if res.ok:
                text = res.text().strip()
                self.ip = text.strip("'\"") if text not in ("None", "") else None
        return f"board ip {self.ip or 'unknown'}, host peers on {self.host_ip or 'unknown'}"

    # -- reset rungs --------------------------------------------------------------------------------------
    def _interrupt(self, deadline: float) -> str:
        if not self.session.interrupt(deadline):
            raise HilError("Ctrl-C brought no raw REPL prompt")
        return "Ctrl-C: raw REPL prompt back"

    def _soft(self, deadline: float) -> str:
        self.session.soft_reset(deadline)
        return "Ctrl-D: soft reboot"

    def _watches_boot(self) -> bool:
        """The ROM's boot output reaches us: an ESP board (a [flash] table) on a device or rfc2217:// port
        (not socket://: no reset lines; not a pty: no modem lines)."""
        scheme = self.url.split("://", 1)[0].lower() if "://" in self.url else None
        return self.definition.flash is not None and scheme in (None, "rfc2217")

    def _hard(self, deadline: float) -> str:
        if not self._watches_boot():
            self.session.hard_reset(deadline)
            return "hard reset: raw REPL back"
        from ..flash.bootcheck import BOOT_WATCH_S, watch_boot

        seen = []

        def watch(port) -> None:
            verdict = watch_boot(port, None, timeout=min(BOOT_WATCH_S, deadline / 2))
            if not verdict.ok:
                raise HilError(f"{verdict.status} after the DTR/RTS reset: {verdict.reason}")
            seen.append(verdict.reason)

        self.session.hard_reset(deadline, watch=watch)
        return f"hard reset (DTR/RTS): {seen[0]}; raw REPL back"

    # -- running code -------------------------------------------------------------------------------------
    def exec(self, code: str, timeout: float, *, on_output=None, catch_exit: bool = False) -> ExecResult:
        if self.session is None:
            return ExecResult("transport", error=f"{self.describe()} is not up")
        return self.session.exec(code, timeout, on_output=on_output, catch_exit=catch_exit)

    def close(self) -> None:
        if self.session is not None:
            session, self.session = self.session, None
            session.close()
