# Port model (circuitpython): what CircuitPython 9 lacks, enforced by the virtual board (vboard.py).
# No `socket`/`usocket` (networking is socketpool on wifi.radio), no `asyncio` in the firmware (it is the
# separate Adafruit_CircuitPython_asyncio library, not modelled) and no u-prefixed module names; `time` is
# CircuitPython's (time.py here: no ticks_ms).  errno: newlib numbers, which differ from the ones this build's
# compiler folds a literal `errno.NAME` to.  No `machine` in CircuitPython (shared-bindings/ has none, nor
# ports/espressif's module list): its unique id and reset are `microcontroller` (microcontroller.py here).
HIDDEN = ("machine", "umachine", "socket", "usocket", "asyncio", "uerrno", "utime", "uselect", "ussl", "utls",
          "uhashlib", "ubinascii", "ujson", "uos", "usys", "ustruct", "urandom", "uio", "ure", "uasyncio",
          "ucollections", "uarray", "uzlib", "uheapq", "uplatform")
ERRNO_FOLD = True
# C modules on the board: imported by the virtual board before any user code (vboard.py, PRELOAD).
PRELOAD = ("socketpool", "wifi", "ssl", "errno", "time", "microcontroller")
# Identity (vboard.py _identity): ports/espressif/mpconfigport.h MICROPY_PY_SYS_PLATFORM "Espressif";
# shared-bindings/os/__init__.c os.uname(): sysname = nodename = MICROPY_HW_MCU_NAME ("ESP32S3" for
# ports/espressif/boards/espressif_esp32s3_devkitc_1_n8).
PLATFORM = "Espressif"
MCU = "ESP32S3"
UNAME = ("ESP32S3", "ESP32S3")
