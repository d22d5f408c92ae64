# Port model (esp32): what the esp32 interpreter has, enforced by the virtual board (vboard.py).
# Floats and async: yes.  errno: newlib numbers (MICROPY_USE_INTERNAL_ERRNO 0), which differ from the ones this
# build's compiler folds a literal `errno.NAME` to (py/parse.c, MICROPY_COMP_MODULE_CONST).
ERRNO_FOLD = True
# machine.unique_id(): the base MAC from efuse (ports/esp32/modmachine.c, esp_efuse_mac_get_default); the
# station MAC of network.py here.
UNIQUE_ID = b"\x24\x0a\xc4\x00\x00\x01"
# C modules on the board: imported by the virtual board before any user code (vboard.py, PRELOAD).
PRELOAD = ("socket", "errno", "network")
# An ESP32 without PSRAM: 56 KiB grown on demand "once (double it)" (ports/esp32/mpconfigport.h) -> ~112 KiB,
# doubled for this 64-bit build.
HEAP = 2 * 112 * 1024
# Identity (vboard.py _identity): ports/esp32/mpconfigport.h MICROPY_PY_SYS_PLATFORM "esp32" and
# MICROPY_PY_OS_UNAME (1) (extmod/modos.c: sysname = nodename = the platform); the MCU of
# ports/esp32/boards/ESP32_GENERIC/mpconfigboard.h MICROPY_HW_MCU_NAME.
PLATFORM = "esp32"
MCU = "ESP32"
UNAME = ("esp32", "esp32")
