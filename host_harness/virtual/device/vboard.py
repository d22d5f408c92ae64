# Virtual board: run by the MicroPython unix interpreter, it makes that interpreter behave like a board
# on a serial port (friendly REPL, raw REPL, raw-paste, soft reset, boot.py/main.py, flash filesystem).
#
# The supervisor (host_harness/virtual/supervisor.py) starts it with:
#   stdin   a pipe the supervisor owns (bytes from the pty / TCP; survives restarts)
#   stdout  a pipe the supervisor copies to the pty / TCP (stderr is the same pipe, as on a UART)
#   env     VBOARD_MODE=raw|friendly  VBOARD_FS=<flash dir>  VBOARD_CTL=<fd>  VBOARD_DESC / VBOARD_MACHINE
#           VBOARD_MODEL=<dir> (optional port model, shadows native modules)
# A soft reset ends this process with a reserved exit code; the supervisor then starts a fresh VM.
# Bytes on the control fd tell the supervisor whether a Ctrl-C byte must become SIGINT:
#   b"A" armed (user code runs with Ctrl-C as interrupt), b"D" disarmed (REPL reads Ctrl-C as a byte).

import builtins
import io
import os
import sys

import machine as _machine
import micropython as _mp
from micropython import const

_RC_SOFT_RAW = const(90)  # soft reset requested in raw mode: come back in raw mode
_RC_SOFT_FRIENDLY = const(91)  # soft reset requested in friendly mode
_RC_HARD = const(92)  # machine.reset(): the supervisor power-cycles the board

_FORCED_EXIT = const(1)  # REPL loops return this to request a soft reset
_TO_FRIENDLY = const(2)
_TO_RAW = const(3)

_WINDOW = const(128)  # raw-paste flow-control window (MICROPY_REPL_STDIN_BUFFER_MAX / 2)
_MODEL_MOUNT = "/.vboard_model"
_COMMON_MOUNT = "/.vboard_model_common"  # models/_common: what several port models share
_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"

_SELF = __file__
_out = sys.stdout.buffer
_stdout_write = sys.stdout.write
_readinto = sys.stdin.buffer.readinto
_inb = bytearray(1)
_orig_print = builtins.print
_ctl = None
_armed = False
_user_intr = True  # what the user asked for with micropython.kbd_intr() in the current exec


class _PowerOff(Exception):
    pass


def _rx():
    # One byte from the host.  A SIGINT that lands while we wait is a stray (sent just as user code
    # finished); a real board would not see it, so retry.
    while True:
        try:
            if _readinto(_inb) == 0:
                raise _PowerOff()
            return _inb[0]
        except KeyboardInterrupt:
            pass


def _tx(data):
    while True:
        try:
            _out.write(data)
            return
        except KeyboardInterrupt:
            pass


def _cooked(s):
    _stdout_write(s.replace("\n", "\r\n"))


def _arm(on):
    global _armed
    if on != _armed and _ctl is not None:
        _armed = on
        while True:
            try:
                _ctl.write(b"A" if on else b"D")
                return
            except KeyboardInterrupt:
                pass


# --- builtins that make output look like a real board's -------------------------------------------

def _print(*args, sep=" ", end="\n", file=None):
    if file is not None and file is not sys.stdout and file is not sys.stderr:
        return _orig_print(*args, sep=sep, end=end, file=file)
    if sep is None:
        sep = " "
    if end is None:
        end = "\n"
    _cooked(sep.join([str(a) for a in args]) + end)


def _repl_print(obj):
    if obj is not None:
        _cooked(repr(obj) + "\n")
        try:
            builtins._ = obj
        except Exception:
            pass


def _print_exception(exc):
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    marker = 'File "' + _SELF + '"'
    lines = [ln for ln in buf.getvalue().split("\n") if marker not in ln]
    _cooked("\n".join(lines))


# --- micropython / machine wrappers: kbd_intr must reach the supervisor, machine.reset must work ---

class _Module:
    def __repr__(self):
        return "<module '%s'>" % self.__name__


def _wrap(real, name, overrides):
    mod = _Module()
    for attr in dir(real):
        if not attr.startswith("__"):
            setattr(mod, attr, getattr(real, attr))
    mod.__name__ = name
    for attr in overrides:
        setattr(mod, attr, overrides[attr])
    sys.modules[name] = mod


def _kbd_intr(c):
    # kbd_intr(-1) lets binary data (e.g. mpremote mount) carry 0x03: the supervisor must stop relaying.
    # The interpreter's own SIGINT handler stays installed (the unix port would otherwise restore
    # SIG_DFL, and a SIGINT already on its way would kill the board instead of raising).
    global _user_intr
    _user_intr = c == 3
    if _armed or c == 3:
        _arm(_user_intr)


def _machine_reset():
    _tx(b"\r\n")
    sys.exit(_RC_HARD)


def _machine_soft_reset():
    raise SystemExit()


# --- execution ----------------------------------------------------------------------------------

def _execute(src, filename, mode, g, print_eof):
    # Compile and run one unit; returns _FORCED_EXIT on SystemExit (soft reset), else 0.
    global _user_intr
    ret = 0
    exc = None
    try:
        code = compile(src, filename, mode)
        src = None
        if mode == "exec":
            g["__file__"] = filename
        _user_intr = True
        _arm(True)
        try:
            exec(code, g)
        finally:
            _arm(False)
            _mp.kbd_intr(3)
    except SystemExit:
        ret = _FORCED_EXIT
    except BaseException as e:  # KeyboardInterrupt included: it is the user's Ctrl-C
        exc = e
    if print_eof:
        _tx(b"\x04")
    if exc is not None:
        _print_exception(exc)
    if print_eof:
        _tx(b"\x04")
    return ret


def _exec_file(name, g):
    try:
        with open(name, "rb") as f:
            src = f.read()
    except OSError:
        return 0
    return _execute(src, name, "exec", g, False)


# --- raw REPL -----------------------------------------------------------------------------------

def _raw_paste(cmd, g):
    if cmd != 0x41:  # only 'A' is defined
        _tx(b"R\x00")
        return 0
    _tx(b"R\x01" + bytes((_WINDOW & 0xFF, _WINDOW >> 8, 1)))
    chunks = []
    cur = bytearray()
    remain = _WINDOW
    while True:
        c = _rx()
        if c == 4 or c == 3:
            _tx(b"\x04")  # end acknowledged (or aborted)
            break
        cur.append(c)
        if len(cur) >= 4096:
            chunks.append(bytes(cur))
            cur = bytearray()
        remain -= 1
        if remain == 0:
            _tx(b"\x01")
            remain = _WINDOW
    if c == 3:
        # Host aborted: swallow its closing Ctrl-D, then report the interrupt as a real board does.
        while _rx() not in (3, 4):
            pass
        _tx(b"\x04")
        _cooked("KeyboardInterrupt: \n")
        _tx(b"\x04")
        return 0
    chunks.append(bytes(cur))
    cur = None
    src = b"".join(chunks)
    chunks = None
    return _execute(src, "<stdin>", "exec", g, True)


def _raw_repl(g, banner):
    if banner:
        _tx(_RAW_BANNER)
    while True:
        _tx(b">")
        line = bytearray()
        while True:
            c = _rx()
            if c == 1:
                if len(line) == 2 and line[0] == 5:
                    if _raw_paste(line[1], g) == _FORCED_EXIT:
                        return _FORCED_EXIT
                    line = bytearray()
                    _tx(b">")
                    continue
                _tx(_RAW_BANNER)
                line = None
                break
            if c == 2:
                _tx(b"\r\n")
                return _TO_FRIENDLY
            if c == 3:
                line = bytearray()
            elif c == 4:
                break
            else:
                line.append(c)
        if line is None:
            continue
        _tx(b"OK")
        if not line:
            _tx(b"\r\n")
            return _FORCED_EXIT
        src = bytes(line)
        line = None
        if _execute(src, "<stdin>", "exec", g, True) == _FORCED_EXIT:
            return _FORCED_EXIT


# --- friendly REPL ------------------------------------------------------------------------------

_COMPOUND = ("if", "while", "for", "try", "with", "def", "class", "async")


def _needs_more(s):
    # Same idea as MicroPython's mp_repl_continue_with_input: open brackets/strings or a compound
    # statement keep the input going until an empty line.
    if not s:
        return False
    depth = 0
    quote = None
    i = 0
    n = len(s)
    while i < n:
        ch = s[i]
        if quote:
            if ch == "\\":
                i += 1
            elif s.startswith(quote, i):
                i += len(quote) - 1
                quote = None
        elif ch == "#":
            while i < n and s[i] != "\n":
                i += 1
        elif ch in "'\"":
            quote = s[i:i + 3] if s[i:i + 3] in ("'''", '"""') else ch
            i += len(quote) - 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    if quote and len(quote) == 3:
        return True
    if depth > 0:
        return True
    last = s.split("\n")[-1]
    if last.endswith("\\"):
        return True
    first = s.lstrip().split(None, 1)[0] if s.strip() else ""
    first = first.split(":")[0].split("(")[0]
    if first in _COMPOUND or s.lstrip().startswith("@") or s.rstrip().endswith(":"):
        return not s.endswith("\n")
    return False


def _readline(line, prompt):
    # Echoing line editor; returns 0 on Enter, or a control byte (1..5) the REPL acts on.
    _tx(prompt)
    start = len(line)
    last = 0
    while True:
        c = _rx()
        if c == 13 or (c == 10 and last != 13):
            _tx(b"\r\n")
            return 0
        last = c
        empty = len(line) == start
        if c == 3:
            return 3
        if c in (1, 2, 4, 5):
            if empty:
                return c
            continue
        if c in (8, 127):
            if not empty:
                line[len(line) - 1:] = b""
                _tx(b"\x08 \x08")
        elif c == 27:  # escape sequence (cursor keys): consumed, not acted on
            if _rx() == 0x5B:
                while not 0x40 <= _rx() <= 0x7E:
                    pass
        elif c == 9:
            line.extend(b"    ")
            _tx(b"    ")
        elif c >= 32 or c == 10:
            if c != 10:
                line.append(c)
                _tx(bytes((c,)))


def _banner():
    v = sys.implementation.version
    ver = "v%d.%d.%d" % (v[0], v[1], v[2])
    if len(v) > 3 and v[3]:
        ver += "-" + v[3]
    at = sys.version.find(" on ")
    date = sys.version[at + 4:at + 14] if at >= 0 else "unknown"
    # A flashed virtual ESP32 shows the version and date of the firmware it booted (esp32_serial/chip.py).
    ver = os.getenv("VBOARD_FW_VERSION") or ver
    date = os.getenv("VBOARD_FW_DATE") or date
    desc = os.getenv("VBOARD_DESC") or "Virtual board"
    mach = os.getenv("VBOARD_MACHINE") or "unix"
    _tx(("MicroPython %s on %s; %s with %s\r\n" % (ver, date, desc, mach)).encode())
    _tx(b'Type "help()" for more information.\r\n')


def _paste_mode(g):
    _tx(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    buf = bytearray()
    while True:
        c = _rx()
        if c == 3:
            _tx(b"\r\n")
            return 0
        if c == 4:
            _tx(b"\r\n")
            break
        buf.append(c)
        _tx(b"\r\n=== " if c == 13 else bytes((c,)))
    return _execute(bytes(buf), "<stdin>", "exec", g, False)


def _friendly_repl(g, banner):
    if banner:
        _banner()
    while True:
        line = bytearray()
        ret = _readline(line, b">>> ")
        if ret == 1:
            _tx(b"\r\n")
            return _TO_RAW
        if ret == 2:
            _tx(b"\r\n")
            _banner()
            continue
        if ret == 3:
            _tx(b"\r\n")
            continue
        if ret == 4:
            _tx(b"\r\n")
            return _FORCED_EXIT
        if ret == 5:
            if _paste_mode(g) == _FORCED_EXIT:
                return _FORCED_EXIT
            continue
        if not line:
            continue
        cancelled = False
        while _needs_more(line.decode()):
            line.append(10)
            ret = _readline(line, b"... ")
            if ret == 3:
                _tx(b"\r\n")
                cancelled = True
                break
            if ret == 4:
                break
        if cancelled:
            continue
        if _execute(bytes(line), "<stdin>", "single", g, False) == _FORCED_EXIT:
            return _FORCED_EXIT


# --- start-up -----------------------------------------------------------------------------------

def _setup():
    global _ctl
    ctl = os.getenv("VBOARD_CTL")
    if ctl:
        _ctl = open("/proc/self/fd/" + ctl, "wb")  # before the flash dir hides the host filesystem
    model = os.getenv("VBOARD_MODEL")
    fs = os.getenv("VBOARD_FS")
    if fs:
        os.umount("/")
        os.mount(os.VfsPosix(fs), "/")
        os.chdir("/")
    path = ["", ".frozen", "/lib"]
    if model:
        # Port models go first so they shadow native modules such as socket.
        os.mount(os.VfsPosix(model), _MODEL_MOUNT)
        common = model.rstrip("/").rsplit("/", 1)[0] + "/_common"
        try:
            os.mount(os.VfsPosix(common), _COMMON_MOUNT)
            path.insert(0, _COMMON_MOUNT)
        except OSError:
            pass  # a model folder outside models/ has no shared part
        path.insert(0, _MODEL_MOUNT)
    sys.path[:] = path
    sys.argv[:] = []
    builtins.print = _print
    builtins.__repl_print__ = _repl_print
    _wrap(_mp, "micropython", {"kbd_intr": _kbd_intr})
    _wrap(_machine, "machine", {"soft_reset": _machine_soft_reset, "reset": _machine_reset})


def _soft_reboot(mode):
    _tx(b"MPY: soft reboot\r\n")
    sys.exit(_RC_SOFT_RAW if mode == "raw" else _RC_SOFT_FRIENDLY)


def main():
    _setup()
    mode = os.getenv("VBOARD_MODE") or "friendly"
    g = {"__name__": "__main__"}
    try:
        if _exec_file("boot.py", g) == _FORCED_EXIT:
            _soft_reboot(mode)
        if mode == "friendly" and _exec_file("main.py", g) == _FORCED_EXIT:
            _soft_reboot(mode)
        banner = True
        while True:
            try:
                ret = _raw_repl(g, banner) if mode == "raw" else _friendly_repl(g, banner)
            except KeyboardInterrupt:
                banner = False  # a stray SIGINT between execs: keep the current mode, no new banner
                continue
            banner = True
            if ret == _FORCED_EXIT:
                _soft_reboot(mode)
            mode = "friendly" if ret == _TO_FRIENDLY else "raw"
    except _PowerOff:
        sys.exit(0)


main()
