# Port model (wipy): what the cc3200 interpreter lacks, enforced by the virtual board (vboard.py).
# ports/cc3200/mpconfigport.h sets no MICROPY_FLOAT_IMPL (py/mpconfig.h's default: MICROPY_FLOAT_IMPL_NONE, so
# py/parsenum.c refuses a float literal with "decimal numbers not supported") and MICROPY_PY_ASYNC_AWAIT (0)
# (py/lexer.c has no async/await keywords: `async def` is two names in a row, "invalid syntax").
NO_FLOAT = True
NO_ASYNC = True
# MICROPY_CONFIG_ROM_LEVEL_CORE_FEATURES: no execfile() (py/mpconfig.h MICROPY_PY_BUILTINS_EXECFILE needs
# EXTRA_FEATURES, which ports/esp32/mpconfigport.h sets).
NO_EXECFILE = True
# MICROPY_USE_INTERNAL_ERRNO (1): the errno numbers are the Linux ones this build folds to.
ERRNO_FOLD = False
# machine.unique_id(): the NWP's MAC address (ports/cc3200/mods/modmachine.c, sl_NetCfgGet); a TI OUI here.
UNIQUE_ID = b"\xd4\x36\x39\x00\x00\x01"
# C modules on the board: imported by the virtual board before any user code (vboard.py, PRELOAD).
PRELOAD = ("socket", "ssl", "errno", "hashlib", "network")
# The WiPy's heap, at least 48 KiB (bootmgr/flc.h: the image may take 192 KiB of the SRAM, "at least 48KB for the
# heap"), scaled for this 64-bit build by a measured factor: the same steps on a virtual WiPy built from this
# interpreter for 32-bit (i386) take 0.69-0.73 of their 64-bit heap (import usocket_port 4832 vs 6624 B, compat
# 4080 vs 5888, the lazy parts 7856 vs 11008, install() 3056 vs 4288: pointers, object headers and GC blocks
# double, bytecode and strings do not), so 48 KiB / 0.71 = 67.6 -> 68 KiB (docs/fidelity.md W22).
HEAP = 68 * 1024
# Identity (vboard.py _identity): ports/cc3200/mpconfigport.h MICROPY_PY_SYS_PLATFORM "WiPy", no
# MICROPY_PY_OS_UNAME (so no os.uname()); ports/cc3200/boards/WIPY/mpconfigboard.h MICROPY_HW_MCU_NAME "CC3200".
PLATFORM = "WiPy"
MCU = "CC3200"
