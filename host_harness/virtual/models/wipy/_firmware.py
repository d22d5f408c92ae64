# Port model (wipy): what the cc3200 interpreter lacks, enforced by the virtual board (vboard.py).
# ports/cc3200/mpconfigport.h sets no MICROPY_FLOAT_IMPL (py/mpconfig.h's default: MICROPY_FLOAT_IMPL_NONE, so
# py/parsenum.c refuses a float literal with "decimal numbers not supported") and MICROPY_PY_ASYNC_AWAIT (0)
# (py/lexer.c has no async/await keywords: `async def` is two names in a row, "invalid syntax").
NO_FLOAT = True
NO_ASYNC = True
# execfile(): ports/cc3200/mpconfigport.h sets MICROPY_PY_BUILTINS_EXECFILE (1) inside `#ifndef DEBUG`, and a
# release build (application.mk, BTYPE release: -DNDEBUG, no -DDEBUG) keeps it.
NO_EXECFILE = False
# MICROPY_CONFIG_ROM_LEVEL_CORE_FEATURES, no override in ports/cc3200: no f-strings (py/mpconfig.h
# MICROPY_PY_FSTRINGS needs EXTRA_FEATURES; py/lexer.c is_string_or_bytes then takes `f'..'` as the name f
# and a string: "invalid syntax"), no asyncio (MICROPY_PY_ASYNCIO, the C `_asyncio`, likewise) and no frozen
# manifest (ports/cc3200 freezes nothing), so neither `asyncio` nor its old name `uasyncio`.
NO_FSTRINGS = True
HIDDEN = ("asyncio", "uasyncio", "_asyncio")
# MICROPY_ERROR_REPORTING_TERSE (ports/cc3200/mpconfigport.h): a hidden module's ImportError is "module not found"
# (py/builtinimport.c).
TERSE = True
# MICROPY_USE_INTERNAL_ERRNO (1): the numbers are the Linux ones this build folds to, but the names are only the
# five of MICROPY_PY_ERRNO_LIST (errno.py), where this build's compiler folds any of its own list: `errno.EAGAIN`
# must be looked up at run time, an AttributeError on the board (py/parse.c fold_constants, MICROPY_COMP_MODULE_CONST).
ERRNO_FOLD = True
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
