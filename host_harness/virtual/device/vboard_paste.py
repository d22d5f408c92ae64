# Virtual board (vboard.py): raw-paste input compiled as it streams in, as shared/runtime/pyexec.c does it
# (do_reader_stdin over mp_reader_stdin_*), for a paste too long to take whole.  The interpreter's own lexer
# reads PasteStream through a one-file filesystem (PasteFS) with execfile.  A file of its own, loaded (into the
# user's heap) only at the first paste that long: compiling vboard.py at start-up needs no more heap than before
# (a parse tree is as big as its file), and the heap a board's user gets is laid out as before.
# link = (rx, tx, arm, rules): vboard.py's byte I/O, its Ctrl-C switch, and its firmware compiler rules for
# one line (with the scan state across lines).
import gc
import io
import os

from micropython import const

_WINDOW = const(128)  # the flow-control window, as vboard.py's


class PasteStream(io.IOBase):
    # The raw-paste input as the interpreter's lexer reads it (shared/runtime/pyexec.c mp_reader_stdin_*: bytes
    # taken from the host one flow-control window at a time, compiled as they arrive, never held whole), each
    # line through the firmware's compiler rules.  The lexer opens it as the file "<stdin>" of PasteFS.
    def __init__(self, link, head, remain):
        self.rx, self.tx, self.arm, self.rules = link
        self.head = head  # what _raw_paste took before it chose to stream
        self.hp = 0
        self.eof = False
        self.aborted = False  # the host sent Ctrl-C
        self.remain = remain
        self.windows = 0
        self.st = [1, None]  # _scan's state across lines
        self.pend = b""
        self.at = 0

    def readinto(self, buf):
        # The lexer's reader (extmod/vfs_reader.c) takes a short read as the end: fill buf unless at the end.
        n = 0
        size = len(buf)
        while n < size:
            k = len(self.pend) - self.at
            if k <= 0:
                if self.eof:
                    break
                self.pend = self._line()
                self.at = 0
                continue
            k = min(k, size - n)
            buf[n:n + k] = self.pend[self.at:self.at + k]
            self.at += k
            n += k
        return n

    def _line(self):
        line = bytearray()
        if self.head is not None:
            j = self.head.find(b"\n", self.hp)
            if j < 0:
                line.extend(self.head[self.hp:])  # a line the host is still sending
                self.head = None
            else:
                line = self.head[self.hp:j + 1]
                self.hp = j + 1
                if self.hp == len(self.head):
                    self.head = None
                return self._rules(line)
        while True:
            c = self.rx()
            if c == 3 or c == 4:
                self.eof = True
                self.tx(b"\x04")  # end acknowledged (mp_reader_stdin_readbyte)
                if c == 3:
                    self.aborted = True
                    raise KeyboardInterrupt()
                self.arm(True)  # the rest is compiled, then run: the user's Ctrl-C interrupts from here on
                break
            self.remain -= 1
            if self.remain == 0:
                self.tx(b"\x01")
                self.remain = _WINDOW
                self.windows += 1
                if self.windows & 15 == 0:
                    # The C reader makes no garbage; this one does (a line, slices) between the parse tree's
                    # chunks: collected every 2 KiB, it does not spread through the heap and fragment it.
                    gc.collect()
            line.append(c)
            if c == 10:
                break
        return self._rules(line)

    def _rules(self, line):
        return self.rules(line, self.st) if line else line

    def ioctl(self, req, arg):
        if req == 4:  # MP_STREAM_CLOSE
            self.close()
        return 0

    def close(self):
        # mp_reader_stdin_close: before the end (an error while compiling) tell the host and drain its input
        if not self.eof:
            self.eof = True
            self.tx(b"\x04")
            while self.rx() not in (3, 4):
                pass


class PasteFS:
    # A filesystem (extmod/vfs.c calls these methods of a Python object) holding one file, the paste being
    # received; the lexer opens it through the cwd so that its source name is "<stdin>", as pyexec.c names it.
    def __init__(self, link, mount, back, head, remain):
        self.link = link
        self.where = mount
        self.back = back  # the user's cwd, restored the moment the lexer opens the file
        self.head = head
        self.remain = remain
        self.stream = None

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def chdir(self, path):
        pass

    def getcwd(self):
        return ""

    def stat(self, path):
        return (0x8000, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    def open(self, path, mode):
        # gone again before the program runs: its os.listdir("/") or os.getcwd() must not see this
        os.chdir(self.back)
        os.umount(self.where)
        self.stream = PasteStream(self.link, self.head, self.remain)
        self.head = None
        return self.stream
