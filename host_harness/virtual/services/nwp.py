"""The virtual WiPy's network processor store: what the CC3200's SimpleLink serial-flash file system holds
outside the FatFS that the REPL and FTP see.  Lives in <flash dir>/.nwp/ (firmware slots, boot info, the
servers' socket count, WLAN events) and, for the TLS files, in the NWP file system that the wipy port model reads
(host_harness/virtual/models/wipy/nwp_fs.py: $VBOARD_NWP_FS, else the flash folder's sibling <flash dir>.nwp/,
where an upload of /flash/cert/ca.pem becomes /cert/ca.pem, as modssl.c hands "/cert/..." to the NWP).

Reproduced:
* ports/cc3200/ftp/updater.c updater_check_path(): FTP uploads to /flash/sys/mcuimg.bin, servicepack.ucf,
  servicepack.sig and /flash/cert/ca.pem, cert.pem, private.key go to the NWP, not to FatFS; an image
  goes to updtimg1.bin unless (Status CHECK and Active UPDATE2) or (Active UPDATE1 and Status not CHECK),
  then updtimg2.bin; at most IMG_SIZE = 192 KiB (bootmgr/flc.h), a longer write fails (FTP 451).
* updater_finnish(): for an image, unless an image is still pending verification, Prev = Active,
  Active = the other update slot, Status = CHECK.
* bootmgr/main.c bootmgr_image_loader()/bootmgr_verify(): on reset an image in CHECK is verified -- its last
  32 bytes are the hex MD5 of the rest -- and on failure deleted, Active = Prev, Prev = FACTORY; Status READY.
* The firmware's version is the MICROPY_GIT_TAG in its banner ("MicroPython <tag> on <date>; ..."); the
  telnet server's welcome line (telnet.c telnet_welcome_msg) shows the running image's.  The factory image is
  the interpreter itself.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ...netrepl.firmware import IMAGE_PATH, image_version, md5_ok

FACTORY, UPDATE1, UPDATE2 = 0, 1, 2
READY, CHECK = "ready", "check"
SLOT_FILES = {FACTORY: "factimg.bin", UPDATE1: "updtimg1.bin", UPDATE2: "updtimg2.bin"}
_NWP_FS = "nwp-fs:"  # a file of the NWP's own file system (bootmgr/flc.h CA_FILE, CERT_FILE, KEY_FILE)
_SPECIAL = {  # updater.c UPDATER_*_PATH -> where the NWP keeps it (None: the image slots)
    IMAGE_PATH: None,
    "/flash/sys/servicepack.ucf": ".nwp/sys/servicepack.ucf",
    "/flash/sys/servicepack.sig": ".nwp/sys/servicepack.sig",
    "/flash/cert/ca.pem": _NWP_FS + "cert/ca.pem",
    "/flash/cert/cert.pem": _NWP_FS + "cert/cert.pem",
    "/flash/cert/private.key": _NWP_FS + "cert/private.key",
}
HIDDEN = (".nwp", "flash")  # top-level names of the flash dir that are NWP storage, not FatFS
class NetworkProcessor:
    def __init__(self, flash_dir: Path, factory_version: str) -> None:
        self.flash_dir = flash_dir
        self.root = flash_dir / ".nwp"
        self.sys = self.root / "sys"
        self.sys.mkdir(parents=True, exist_ok=True)
        self.nwp_fs = Path(os.environ.get("VBOARD_NWP_FS") or f"{str(flash_dir).rstrip('/')}.nwp")
        (self.nwp_fs / "cert").mkdir(parents=True, exist_ok=True)
        for d in ("sys", "lib", "cert"):  # mptask.c mptask_init_sflash_filesystem() creates these
            (flash_dir / d).mkdir(exist_ok=True)
        self.factory_version = factory_version
        self.last_boot = "factory"
        self.booted = factory_version

    # -- boot info ----------------------------------------------------------------------------------
    def _info_path(self) -> Path:
        return self.sys / "bootinfo.json"

    def boot_info(self) -> dict:
        try:
            info = json.loads(self._info_path().read_text())
            if isinstance(info, dict) and {"active", "prev", "status"} <= info.keys():
                return info
        except (OSError, ValueError):
            pass
        return {"active": FACTORY, "prev": FACTORY, "status": READY}

    def _write_info(self, info: dict) -> None:
        tmp = self._info_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self._info_path())

    # -- the updater (FTP STOR to a special path) ---------------------------------------------------
    @staticmethod
    def is_special(path: str) -> bool:
        return path in _SPECIAL

    def update_target(self, path: str) -> Path:
        rel = _SPECIAL[path]
        if rel is not None and rel.startswith(_NWP_FS):
            return self.nwp_fs / rel[len(_NWP_FS):]
        if rel is not None:
            return self.flash_dir / rel
        info = self.boot_info()
        slot = UPDATE1
        if (info["status"] == CHECK and info["active"] == UPDATE2) or (
                info["active"] == UPDATE1 and info["status"] != CHECK):
            slot = UPDATE2
        return self.sys / SLOT_FILES[slot]

    def finish_update(self, path: str, target: Path) -> None:
        if _SPECIAL.get(path, "") is not None:
            return
        info = self.boot_info()
        if info["status"] == CHECK:  # an image is still pending verification: leave the boot info as it is
            return
        slot = UPDATE1 if target.name == SLOT_FILES[UPDATE1] else UPDATE2
        self._write_info({"active": slot, "prev": info["active"], "status": CHECK})

    # -- the boot manager (a reset) -----------------------------------------------------------------
    def boot(self) -> str:
        """Run bootmgr_image_loader(); returns "factory", "updated", "rolled-back" or "running"."""
        info = self.boot_info()
        outcome = "running" if info["active"] != FACTORY else "factory"
        if info["active"] != FACTORY and info["status"] == CHECK:
            image = self.sys / SLOT_FILES[info["active"]]
            try:
                ok = md5_ok(image.read_bytes())
            except OSError:
                ok = False
            if ok:
                outcome = "updated"
            else:
                with contextlib.suppress(OSError):
                    image.unlink()
                info["active"], info["prev"] = info["prev"], FACTORY
                outcome = "rolled-back"
            info["status"] = READY
            self._write_info(info)
        self.last_boot = outcome
        self.booted = self._active_version()
        return outcome

    def running_version(self) -> str:
        """The version of the image the last boot() started (an uploaded image runs only after a reset)."""
        return self.booted

    def _active_version(self) -> str:
        info = self.boot_info()
        if info["active"] == FACTORY:
            return self.factory_version
        try:
            data = (self.sys / SLOT_FILES[info["active"]]).read_bytes()
        except OSError:
            return self.factory_version
        return image_version(data) or "unknown"

    # -- shared with the port model -----------------------------------------------------------------
    def set_server_sockets(self, n: int) -> None:
        """The servers' open sockets, which the wipy socket model (models/wipy/socket.py `_full`) counts
        against SL_MAX_SOCKETS with the user's: the count is the file's size, one stat() on the board."""
        tmp = self.root / "sockets.tmp"
        tmp.write_bytes(b"s" * n)
        os.replace(tmp, self.root / "sockets")

    def clear_server_sockets(self) -> None:
        """No servers run: the model falls back to the two listeners of an idle board."""
        with contextlib.suppress(FileNotFoundError):
            (self.root / "sockets").unlink()

    def wlan_events(self) -> int:
        """How many WLAN events the board has had (the network model appends one byte per event)."""
        try:
            return (self.root / "wlan").stat().st_size
        except OSError:
            return 0
