# Virtual board: run by the MicroPython unix interpreter, it makes that interpreter behave like a board
# on a serial port (friendly REPL, raw REPL, raw-paste, soft reset, boot.py/main.py, flash filesystem).
#
# The supervisor (host_harness/virtual/supervisor.py) starts it with:
#   stdin   a pipe the supervisor owns (bytes from the pty / TCP; survives restarts)
#   stdout  a pipe the supervisor copies to the pty / TCP (stderr is the same pipe, as on a UART)
#   env     VBOARD_MODE=raw|friendly  VBOARD_FS=<flash dir>  VBOARD_CTL=<fd>  VBOARD_DESC / VBOARD_MACHINE
#           VBOARD_BOARD (the board file's name)
#           VBOARD_MODEL=<dir> (optional port model, shadows native modules)
# A soft reset ends this process with a reserved exit code; the supervisor then starts a fresh VM.
# Bytes on the control fd tell the supervisor whether a Ctrl-C byte must become SIGINT:
#   b"A" armed (user code runs with Ctrl-C as interrupt), b"D" disarmed (REPL reads Ctrl-C as a byte).

import builtins
import gc
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
# The interpreter's own compiler entry points: the board's builtins of these names apply the firmware's rules.
_real_compile = builtins.compile
_real_exec = builtins.exec
_real_eval = builtins.eval
_real_execfile = builtins.execfile
_user_g = None  # the REPL's globals: exec()/eval() without a globals dict run there (see _user_exec)
_ctl = None
_armed = False
_user_intr = True  # what the user asked for with micropython.kbd_intr() in the current exec


class _PowerOff(Exception):
    pass


class _Reset(BaseException):
    # machine.reset(): not a SystemExit (code that catches that must not stop a reset, and the raw REPL
    # must not answer with its end-of-output markers: a real board just reboots).
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
    # this program's frames (vboard_paste.py too) and the port model's: on the board those are C, no frame
    ours = ('File "' + _SELF + '"', 'File "' + _DEVICE_MOUNT + "/", 'File "' + _MODEL_MOUNT)
    lines = [ln for ln in buf.getvalue().split("\n") if ours[0] not in ln and ours[1] not in ln and ours[2] not in ln]
    if exc is _where[0]:  # a SyntaxError of the firmware's compiler: where, as the firmware prints it
        lines.insert(len(lines) - 2, '  File "%s", line %d' % (_where[1], _where[2]))
        _where[0] = None
    _cooked("\n".join(lines))


# --- the flash filesystem lists file sizes, as a board's does ---------------------------------------
# The flash is a host folder under VfsPosix, whose ilistdir yields (name, type, inode) only
# (extmod/vfs_posix.c, vfs_posix_ilistdir_it_iternext); a board's FAT or littlefs flash yields
# (name, type, 0, size) (extmod/vfs_fat.c, extmod/vfs_lfsx.c: the ilistdir iterators), and tools read
# that size (mpremote's `fs ls`, tools/mpremote/mpremote/transport.py fs_listdir, pads a missing one with 0).

_native_ilistdir = os.ilistdir


def _sized(entries, base):
    for e in entries:
        if len(e) == 3:
            size = 0
            if e[1] != 0x4000:  # directories have size 0 on FAT and littlefs too
                try:
                    size = os.stat(base + e[0])[6]
                except OSError:
                    pass  # removed since it was listed
            e = (e[0], e[1], 0, size)
        yield e


def _ilistdir(*args):
    entries = _native_ilistdir(*args)  # a bad path raises here, at the call, as on a board
    path = args[0] if args else ""
    sep = b"/" if isinstance(path, bytes) else "/"
    return _sized(entries, path + sep if path and path[-1:] != sep else path)


# --- micropython / machine wrappers: kbd_intr must reach the supervisor, machine.reset must work ---

def _module_repr(self):
    return "<module '%s'>" % self.__name__


# Named as the interpreter's module type, so that a missing attribute reads as on a board:
# "'module' object has no attribute 'uname'".
_Module = type("module", (), {"__repr__": _module_repr})


def _attrtuple_repr(self):
    return "(" + ", ".join(["%s=%r" % (k, v) for k, v in zip(self._fields, self._values)]) + ")"


# py/objattrtuple.c: a tuple whose items are also attributes, printed as (name=value, ...) with no type name
# (sys.implementation, os.uname()).
_AttrTuple = type("tuple", (), {
    "__repr__": _attrtuple_repr,
    "__getitem__": lambda self, i: self._values[i],
    "__len__": lambda self: len(self._values),
    "__iter__": lambda self: iter(self._values),
})


def _attrtuple(fields, values):
    t = _AttrTuple()
    t._fields = fields
    t._values = tuple(values)
    for k, v in zip(fields, values):
        setattr(t, k, v)
    return t


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
    raise _Reset()


def _machine_soft_reset():
    raise SystemExit()


# --- firmware features (docs/fidelity.md) --------------------------------------------------------
# A port model folder may hold _firmware.py: what that firmware's interpreter has and lacks.
#   NO_FLOAT / NO_ASYNC  float literals / async-await refused at compile time with the firmware's SyntaxError;
#                        NO_FLOAT also a float constant in a .mpy at import (its ValueError, vboard_mpy.py)
#   HIDDEN               modules the firmware does not have (ImportError for user code)
#   NO_EXECFILE          the firmware has no execfile() builtin
#   NO_FSTRINGS          f-strings refused as NO_ASYNC (no MICROPY_PY_FSTRINGS: the lexer reads `f'..'` as a name
#                        and a string); HIDDEN holds also for a module this program keeps for the models (machine
#                        on CircuitPython)
#   TERSE                MICROPY_ERROR_REPORTING_TERSE: the errors this program raises for the firmware use its texts
#   ERRNO_FOLD           the firmware's errno numbers (or names) differ from this build's, whose compiler folds a
#                        literal `errno.NAME` to its own value: such code (REPL source, plain .py modules) is
#                        compiled as `(errno,)[0].NAME`
#   (NO_FLOAT also makes `/` in such code the firmware's TypeError for ints: models/_common/true_divide.py)
#   UNIQUE_ID            machine.unique_id()
#   PRELOAD              model modules imported at start-up: on the board they are C in flash, so compiling
#                        them must not fragment the heap in the middle of the user's imports
#   HEAP                 bytes of heap user code gets (the firmware's heap, scaled for this 64-bit build): what
#                        the interpreter's heap has beyond that after start-up (this program and the preloaded
#                        model modules live in flash on the board) is taken by ballast, around one free run
# `import uX` reaches the model's X where the model has one (MicroPython >= 1.21 maps u-names to builtins).
# The model's own modules import the interpreter's modules unchanged.
_fw = None
_real_import = builtins.__import__
_aliases = {}
_checked = set()
_ballast = []  # the heap the board does not have (HEAP)
_crumbs = []  # the same, in one-block pieces
_where = [None, "", 0]  # the SyntaxError this layer raised, and its file and line
_kept = ()  # hidden modules this program keeps loaded for the models (machine on CircuitPython)


def _ident(c):
    return c.isalpha() or c.isdigit() or c == "_"


def _string_end(src, i, q, st):
    # Index just past the string quote q that is open at src[i]; len(src) when it runs on (st[1] keeps it open).
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            i += 1
        elif ch == "\n":
            st[0] += 1
        elif src.startswith(q, i):
            st[1] = None
            return i + len(q)
        i += 1
    st[1] = q if len(q) == 3 else None
    return n


def _scan(src, fix, st):
    # Walk the tokens of src, a whole source or its next line (st = [line, open triple quote]; strings and
    # comments skipped).  Returns (line, message) for the first construct the firmware refuses, else None;
    # with fix, what _firmware_source rewrites goes into the list fix as (position, _REWRITE index).
    i = 0
    n = len(src)
    prev = " "
    depth = 0  # open brackets (of this text)
    aug = -1  # the depth of an open `x /= ...` statement, whose end gets the ")" of its rewrite
    if st[1]:
        i = _string_end(src, 0, st[1], st)
    while i < n:
        c = src[i]
        if aug >= 0 and depth == aug and (c == ";" or c == "#" or (c == "\n" and prev != "\\")):
            fix.append((i, 3))
            aug = -1
        if c == "\n":
            st[0] += 1
        elif c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c == "'" or c == '"':
            q = src[i:i + 3]
            if q != c * 3:
                q = c
            i = _string_end(src, i + len(q), q, st)
            prev = c
            continue
        elif c.isdigit() or (c == "." and src[i + 1:i + 2].isdigit() and not _ident(prev) and prev not in ")]}"):
            j = i + 1
            if c == "0" and src[j:j + 1] in ("x", "X", "o", "O", "b", "B"):
                while j < n and _ident(src[j]):
                    j += 1
            else:
                while j < n and (src[j].isdigit() or src[j] == "_"):
                    j += 1
                if (c == "." or src[j:j + 1] in (".", "e", "E", "j", "J")) and _fw.NO_FLOAT:
                    return st[0], "decimal numbers not supported"
            i = j
            prev = "0"
            continue
        elif _ident(c):
            j = i + 1
            while j < n and _ident(src[j]):
                j += 1
            w = src[i:j]
            if (w == "f" or w == "rf" or w == "fr") and src[j:j + 1] in ("'", '"') and _fw.NO_FSTRINGS:
                return st[0], "invalid syntax"  # py/lexer.c is_string_or_bytes: a name, then a string
            if w == "async" or w == "await":
                k = j
                while k < n and src[k] in " \t":
                    k += 1
                e = k
                while e < n and _ident(src[e]):
                    e += 1
                nxt = src[k:e]
                if _fw.NO_ASYNC and (nxt in ("def", "for", "with") if w == "async" else nxt != ""):
                    return st[0], "invalid syntax"  # no such keywords: two names in a row
            elif w == "errno" and fix is not None and prev != "." and src[j:j + 1] == "." and _fw.ERRNO_FOLD:
                fix.append((i, 0))
            i = j
            prev = "a"
            continue
        elif c == "(" or c == "[" or c == "{":
            depth += 1
        elif c == ")" or c == "]" or c == "}":
            depth -= 1
        elif c == "/" and fix is not None and _fw.NO_FLOAT:
            if src[i + 1:i + 2] == "/":
                i += 2  # floor division: the firmware has it
                prev = "/"
                continue
            if src[i + 1:i + 2] != "=":
                fix.append((i, 1))
            elif aug < 0:
                fix.append((i, 2))
                aug = depth
        if c not in " \t\r\n":
            prev = c
        i += 1
    if aug >= 0:
        if depth == aug and prev != "\\":
            fix.append((n, 3))  # the statement ends with the text
        else:  # it goes on past this line of a streamed input: left as this build divides (docs/fidelity.md W21)
            while fix[-1][1] != 2:
                fix.pop()
            fix.pop()
    return None


def _refuse(bad, filename):
    e = SyntaxError(bad[1])
    _where[0], _where[1], _where[2] = e, filename, bad[0]
    raise e


def _firmware_source(src, filename, st=None):
    # What the firmware's compiler would refuse (raised as its SyntaxError), else src ready for this compiler.
    # st: the scan state when src is the next line of a longer input (_PasteStream).
    if type(src) is not str:
        src = src.decode()
    if not (_fw.NO_FLOAT or _fw.NO_ASYNC or _fw.NO_FSTRINGS) and "errno" not in src and (
            st is None or (st[1] is None and '"""' not in src and "'''" not in src)):
        # Nothing to refuse, nothing to rewrite: the scan's answer without the scan (which walks the text one
        # character at a time, and a str index is a walk from its start, py/objstrunicode.c str_index_to_ptr:
        # a deploy's 16 KB pastes took ~0.2 CPU s each).  A line that may open a string the next one is in
        # is scanned, for the state it leaves.
        if st is not None:
            st[0] += src.count("\n")
        return src
    fix = [] if _fw.ERRNO_FOLD or _fw.NO_FLOAT else None
    bad = _scan(src, fix, st or [1, None])
    if bad:
        _refuse(bad, filename)
    if fix:
        out = []
        at = 0
        for i, k in fix:
            out.append(src[at:i])
            out.append(_REWRITE[k])
            at = i + _REWRITTEN[k]
        out.append(src[at:])
        src = "".join(out)
    return src


# What _scan's fix list asks for: `errno.NAME` looked up when it runs; without floats `a / b` as
# `a @__vb_div__@ b` (the same precedence level, left to right) and `x /= e` as `x @=__vb_div__@(e)`
# (models/_common/true_divide.py).
_REWRITE = ("(errno,)[0]", "@__vb_div__@", "@=__vb_div__@(", ")")
_REWRITTEN = (5, 1, 2, 0)  # the characters of the source each replaces


def _source_of(name):
    # Where the interpreter's import finds `name` (py/builtinimport.c stat_top_level, stat_module): in each
    # sys.path entry (for a sub-module: its package's __path__) a directory first, then name.py, then name.mpy.
    # Returns (the .py file to compile or None, the package directory or None).
    i = name.rfind(".")
    base = sys.path if i < 0 else (getattr(sys.modules.get(name[:i]), "__path__", None),)
    for d in base:
        if d is None:
            continue
        p = (d or ".") + "/" + name[i + 1:]
        for tail in ("", ".py", ".mpy"):
            try:
                st = os.stat(p + tail)
            except OSError:
                continue
            if tail:
                if tail == ".mpy" and _fw.MPY is not None and _fw.MPY(p + tail):
                    # py/persistentcode.c load_obj -> py/parsenum.c mp_parse_num_float without float support
                    # (lex NULL: a ValueError, not a SyntaxError), while the import loads the constants
                    raise ValueError("decimal numbers not supported")
                return (p + tail if tail == ".py" else None), None
            if st[0] & 0x4000:
                try:
                    os.stat(p + "/__init__.py")
                    return p + "/__init__.py", p
                except OSError:
                    return None, p  # __init__.mpy, or a namespace package
    return None, None


def _import(name, g=None, loc=None, fromlist=(), level=0):
    # (_checked: names already looked at, so a builtin imported in a hot path, e.g. select, costs one lookup)
    cur = name
    if level and g:
        # a relative import: the absolute name, as py/builtinimport.c evaluate_relative_import makes it (the
        # importer's __name__ less `level` components, one fewer from a package's __init__)
        cur = g.get("__name__", "")
        k = level - ("__path__" in g)
        i = len(cur)
        while k and i > 0:
            i -= 1
            if cur[i] == ".":
                k -= 1
        cur = cur[:i] + "." + name if i and name else cur[:i]
    if cur and (cur not in sys.modules or cur in _kept) and cur not in _checked:
        f = g.get("__file__", "") if g else ""
        if not f.startswith(_MODEL_MOUNT):  # (covers _COMMON_MOUNT too)
            cur = _firmware_import(cur)
            if not level:
                name = cur
    return _real_import(name, g, loc, fromlist, level)


def _firmware_import(name):
    if name in _fw.HIDDEN:  # (py/builtinimport.c mp_builtin___import___default: its text per error reporting level)
        raise ImportError("module not found" if _fw.TERSE else "no module named '%s'" % name)
    if name[:1] == "u":
        a = _aliases.get(name)
        if a is None:
            try:
                os.stat(_MODEL_MOUNT + "/" + name[1:] + ".py")
                a = name[1:]
            except OSError:
                a = name
            _aliases[name] = a
        name = a
    # Each level of a dotted name in turn, parents first, as the interpreter's import walks them.
    i = 0
    while i >= 0:
        i = name.find(".", i + 1)
        cur = name if i < 0 else name[:i]
        if cur in sys.modules:
            continue  # (an alias of a loaded module, or a loaded package)
        p, d = _source_of(cur)
        if p is None and d is None:
            if i < 0:
                _checked.add(name)  # a builtin (or absent, or .mpy): nothing to compile, ever
            break  # (the interpreter's import loads a .mpy, or says what is missing)
        fix = p is not None and (_fw.ERRNO_FOLD or _fw.NO_FLOAT)  # (whether it may need rewriting)
        if p is not None and (_fw.NO_FLOAT or _fw.NO_ASYNC or _fw.NO_FSTRINGS):
            st = [1, None]
            found = []
            with open(p) as f:
                for ln in f:  # line by line: a small heap need not hold the source twice
                    bad = _scan(ln, found, st)
                    if bad:
                        _refuse(bad, p)
            fix = fix and found != []  # (only then is the whole source read again, by _load_unfolded)
        if not (fix and _load_unfolded(cur, p, d)) and i >= 0:
            _real_import(cur)  # a package the interpreter loads: the next level is found in its __path__
    return name


def _load_unfolded(name, path, d):
    # A .py module or package __init__.py (d: the package's directory) that writes `errno.NAME` (or, without
    # floats, `/`) is compiled here with the firmware's rules (see _firmware_source), into a fresh module object
    # registered as the interpreter's import registers one (py/builtinimport.c process_import_at_level:
    # sys.modules first, __path__, the parent's attribute after it ran).  False for any other module: the
    # interpreter imports it.
    with open(path) as f:
        src = f.read()
    if not ((_fw.ERRNO_FOLD and "errno." in src) or (_fw.NO_FLOAT and "/" in src)):
        return False
    code = _real_compile(_firmware_source(src, path), path, "exec")
    src = None
    m = _real_import("_vboard_blank")  # models/_common/_vboard_blank.py: an empty module to fill
    del sys.modules["_vboard_blank"]
    g = m.__dict__
    g["__name__"] = name
    g["__file__"] = path
    if d:
        g["__path__"] = d
    sys.modules[name] = m
    try:
        exec(code, g)
    except BaseException:
        del sys.modules[name]
        raise
    i = name.rfind(".")
    if i > 0:
        setattr(sys.modules[name[:i]], name[i + 1:], m)
    return True


def _load_firmware():
    global _fw
    try:
        with open(_MODEL_MOUNT + "/_firmware.py") as f:
            src = f.read()
    except OSError:
        return
    fw = {}
    exec(src, fw)
    _fw = _Module()
    for k in ("NO_FLOAT", "NO_ASYNC", "NO_FSTRINGS", "ERRNO_FOLD", "NO_EXECFILE", "TERSE"):
        setattr(_fw, k, fw.get(k, False))
    for k in ("PLATFORM", "MCU", "UNAME"):
        setattr(_fw, k, fw.get(k))
    _fw.HIDDEN = fw.get("HIDDEN", ())
    _fw.UNIQUE_ID = fw.get("UNIQUE_ID")
    heap = fw.get("HEAP")
    preload = fw.get("PRELOAD", ())
    fw = src = None
    # The user's run is taken before the models are compiled: their compilation spreads what they keep over
    # whatever free memory it finds, and would leave no run of `heap` bytes (vboard.py _reserve).
    keep = [_run(heap)] if heap else [None]
    for m in preload:
        __import__(m)
    # the .mpy check of a float-less firmware (vboard_mpy.py), compiled here with the models: outside the user's heap
    _fw.MPY = _device_module("vboard_mpy.py")["float_constant"] if _fw.NO_FLOAT else None
    if _fw.PLATFORM:
        _identity()
    for m in _fw.HIDDEN:  # (uos, usys: aliases this program registered, which CircuitPython does not have)
        if m in sys.modules:
            del sys.modules[m]
    # Every source the board compiles meets the firmware's compiler: user calls of compile/exec/eval(/execfile)
    # too (on a cc3200 py/parsenum.c refuses `1.5` wherever the text comes from; mp_builtin_compile,
    # eval_exec_helper and mp_builtin_execfile of py/builtinevex.c all lex and parse with it).  Installed before
    # the heap is reserved: the builtins' override dict grows here, not inside the user's free run.
    builtins.compile = _user_compile
    builtins.exec = _user_exec
    builtins.eval = _user_eval
    # (the interpreter's builtins cannot be deleted: a firmware without execfile gets its NameError on a call)
    builtins.execfile = _no_execfile if _fw.NO_EXECFILE else _user_execfile
    builtins.__import__ = _import
    if _fw.NO_FLOAT:
        builtins.__vb_div__ = _real_import("true_divide").TrueDivide()  # (_firmware_source; models/_common)
    if keep[0] is not None:
        _reserve(heap, keep)


def _no_execfile(*args):
    raise NameError("name 'execfile' isn't defined")


def _user_compile(src, filename, mode, *rest):
    return _real_compile(_firmware_source(src, filename), filename, mode, *rest)


def _run_source(run, src, mode, glob, loc):
    # exec/eval of a source text (a code object runs as it is): checked and compiled as "<string>", the name
    # py/builtinevex.c gives it; without globals the REPL's (a Python wrapper cannot see its caller's globals:
    # from inside an imported module that is a difference, docs/fidelity.md I8).
    if type(src) is str or type(src) is bytes:
        src = _real_compile(_firmware_source(src, "<string>"), "<string>", mode)
    if glob is None:
        glob = _user_g
    return run(src, glob, glob if loc is None else loc)


def _user_exec(src, glob=None, loc=None):
    return _run_source(_real_exec, src, "exec", glob, loc)


def _user_eval(src, glob=None, loc=None):
    return _run_source(_real_eval, src, "eval", glob, loc)


def _user_execfile(path, glob=None, loc=None):
    with open(path) as f:
        code = _real_compile(_firmware_source(f.read(), path), path, "exec")
    if glob is None:
        glob = _user_g
    return _real_exec(code, glob, glob if loc is None else loc)


def _run(heap):
    # A block of about `heap` bytes (less where the heap has no such run), or None when there is not that much.
    gc.collect()
    if gc.mem_free() <= heap:
        return None
    n = heap
    while n > 4096:
        try:
            return bytearray(n)
        except MemoryError:
            n -= n >> 6
    return None


def _reserve(heap, keep):  # keep: [the run], emptied here so that no reference is left
    # The board's heap is one free region after boot (its C modules are in flash, docs/fidelity.md I3): keep
    # one run of about `heap` bytes (`keep`, taken before the models were compiled) and fill every hole
    # compiling this program and the models left with ballast, so the user's heap is not the fragments around
    # one big ballast block.
    gc.collect()
    _fill(1 << 30, len(keep[0]) >= heap)  # (a shorter run: the holes make up the rest, as before)
    keep.pop()
    gc.collect()
    _fill(gc.mem_free() - heap)  # what the run (and the holes' leftovers) hold beyond `heap`: from its start


def _fill(want, crumbs=True):
    # Ballast blocks, largest first, until `want` more bytes are taken or nothing fits; with crumbs, one-block
    # holes too.
    size = 1 << 16
    goal = gc.mem_free() - want
    while size >= 32 and gc.mem_free() - goal >= 32:
        if size > gc.mem_free() - goal:
            size >>= 1
            continue
        try:
            _ballast.append(bytearray(size))
        except MemoryError:
            size >>= 1
    _crumbs.append(None)  # (its slot, taken while there is room)
    t = None
    while crumbs and gc.mem_free() - goal >= 32:  # the one-block holes compiling leaves (no bytearray fits one)
        try:
            t = (t, None)  # one 32-byte GC block on this 64-bit build, chained: no list to grow
        except MemoryError:
            break
    _crumbs[-1] = t


# --- execution ----------------------------------------------------------------------------------

def _execute(src, filename, mode, g, print_eof):
    # Compile and run one unit; returns _FORCED_EXIT on SystemExit (soft reset), else 0.
    global _user_intr
    ret = 0
    exc = None
    try:
        if _fw is not None:
            src = _firmware_source(src, filename)
        code = _real_compile(src, filename, mode)
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
    except _Reset:
        raise
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

_PASTE_MOUNT = "/.vboard_paste"
_DEVICE_MOUNT = "/.vboard_device"  # this folder, while vboard_paste.py or vboard_mpy.py is loaded
_vp = None  # vboard_paste.py's names, loaded at the first long paste (not at start-up: see its header)
_PASTE_WHOLE = const(16384)  # a raw paste up to this size is compiled whole


def _raw_paste(cmd, g):
    # A paste up to _PASTE_WHOLE is compiled whole, as a string (the heap it leaves is the one the small boards'
    # budgets were measured with); a longer one is compiled as it streams in (vboard_paste.py).
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
        remain -= 1
        if remain == 0:
            _tx(b"\x01")
            remain = _WINDOW
        if len(cur) >= 4096:
            chunks.append(bytes(cur))
            cur = bytearray()
            if len(chunks) * 4096 >= _PASTE_WHOLE:
                cur = None
                head = b"".join(chunks)
                chunks = None
                return _paste_stream(head, remain, g)
    if c == 3:  # mp_reader_stdin_readbyte raises KeyboardInterrupt: no traceback, no code ran
        _tx(b"\x04")
        _cooked("KeyboardInterrupt: \n")
        _tx(b"\x04")
        return 0
    chunks.append(bytes(cur))
    cur = None
    src = b"".join(chunks)
    chunks = None
    return _execute(src, "<stdin>", "exec", g, True)


def _paste_rules(line, st):
    return line if _fw is None else _firmware_source(line, "<stdin>", st).encode()


def _device_module(name):
    # The names of a file of this program's folder (vboard_paste.py, vboard_mpy.py), compiled when first needed.
    os.mount(os.VfsPosix(_SELF.rsplit("/", 1)[0]), _DEVICE_MOUNT)
    try:
        m = {}
        _real_execfile(_DEVICE_MOUNT + "/" + name, m)
        return m
    finally:
        os.umount(_DEVICE_MOUNT)


def _paste_stream(head, remain, g):
    global _user_intr, _vp
    if _vp is None:
        _vp = _device_module("vboard_paste.py")
    ret = 0
    exc = None
    back = os.getcwd()
    fs = _vp["PasteFS"]((_rx, _tx, _arm, _paste_rules), _PASTE_MOUNT, back, head, remain)
    head = None
    os.mount(fs, _PASTE_MOUNT)
    try:
        os.chdir(_PASTE_MOUNT)
        g["__file__"] = "<stdin>"
        _user_intr = True
        try:
            _real_execfile("<stdin>", g)  # (the stream arms Ctrl-C at the end of the input)
        finally:
            _arm(False)
            _mp.kbd_intr(3)
            if fs.stream is None:  # (the lexer never opened it)
                os.chdir(back)
                os.umount(_PASTE_MOUNT)
    except SystemExit:
        ret = _FORCED_EXIT
    except _Reset:
        raise
    except BaseException as e:  # a SyntaxError or MemoryError while the input streams in, or the program's
        exc = e
    if fs.stream is not None:
        fs.stream.close()  # (pyexec.c parse_compile_execute closes the reader on any exception)
    _tx(b"\x04")
    if fs.stream is not None and fs.stream.aborted:
        _cooked("KeyboardInterrupt: \n")  # raised by the reader, outside any code: no traceback
    elif exc is not None:
        _print_exception(exc)
    _tx(b"\x04")
    return ret


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


def _version():
    # (git tag, build date) of the firmware: this interpreter's, or the one a flashed virtual ESP32 booted
    # (esp32_serial/chip.py)
    v = sys.implementation.version
    ver = "v%d.%d.%d" % (v[0], v[1], v[2])
    if len(v) > 3 and v[3]:
        ver += "-" + v[3]
    at = sys.version.find(" on ")
    date = sys.version[at + 4:at + 14] if at >= 0 else "unknown"
    return os.getenv("VBOARD_FW_VERSION") or ver, os.getenv("VBOARD_FW_DATE") or date


def _banner():
    ver, date = _version()
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
    global _ctl, _kept
    ctl = os.getenv("VBOARD_CTL")
    if ctl:
        _ctl = open("/proc/self/fd/" + ctl, "wb")  # before the flash dir hides the host filesystem
    model = os.getenv("VBOARD_MODEL")
    fs = os.getenv("VBOARD_FS")
    if fs:
        os.umount("/")
        os.mount(os.VfsPosix(fs), "/")
        os.chdir("/")
        _wrap(os, "os", {"ilistdir": _ilistdir})
        sys.modules["uos"] = sys.modules["os"]
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
    machine = {"soft_reset": _machine_soft_reset, "reset": _machine_reset}
    if model:
        _load_firmware()
        if _fw is not None and _fw.UNIQUE_ID is not None:
            machine["unique_id"] = lambda: _fw.UNIQUE_ID
    _wrap(_machine, "machine", machine)
    if _fw is not None:
        _kept = tuple([m for m in _fw.HIDDEN if m in sys.modules])  # (not what user code registers later)


def _identity():
    # What the firmware says it is (docs/fidelity.md I6): sys.platform is MICROPY_PY_SYS_PLATFORM; the machine
    # is "MICROPY_HW_BOARD_NAME with MICROPY_HW_MCU_NAME", here the board file's name (so a tool finds which
    # board file it is) with the modelled MCU; os.uname() where the firmware has it (extmod/modos.c
    # mp_os_uname: sysname, nodename, release MICROPY_VERSION_STRING, version "tag on date", machine).
    ver, date = _version()
    mach = "%s with %s" % (os.getenv("VBOARD_BOARD") or "virtual board", _fw.MCU)
    real = sys.implementation
    fields = [k for k in ("name", "version", "_machine", "_mpy", "_build", "_thread") if hasattr(real, k)]
    impl = _attrtuple(fields, [mach if k == "_machine" else getattr(real, k) for k in fields])
    _wrap(sys, "sys", {"platform": _fw.PLATFORM, "implementation": impl})
    sys.modules["usys"] = sys.modules["sys"]
    if _fw.UNAME and os.getenv("VBOARD_FS"):  # (os is the flash's wrapper)
        u = _attrtuple(("sysname", "nodename", "release", "version", "machine"),
                       (_fw.UNAME[0], _fw.UNAME[1], ver.lstrip("v"), ver + " on " + date, mach))
        setattr(sys.modules["os"], "uname", lambda: u)


def _soft_reboot(mode):
    _tx(b"MPY: soft reboot\r\n")
    sys.exit(_RC_SOFT_RAW if mode == "raw" else _RC_SOFT_FRIENDLY)


def main():
    _setup()
    mode = os.getenv("VBOARD_MODE") or "friendly"
    global _user_g
    g = _user_g = {"__name__": "__main__"}
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
    except _Reset:
        sys.exit(_RC_HARD)  # the supervisor power-cycles: a fresh VM, boot.py, main.py, the boot banner


main()
