# Port model (wipy): the cc3200 `socket` module (ports/cc3200/mods/modsocket.c over the CC3200's SimpleLink
# network processor), reproduced on the unix port over the real unix socket.  Reproduced:
#   * constants AF_INET SOCK_STREAM SOCK_DGRAM IPPROTO_TCP IPPROTO_UDP IPPROTO_SEC(100) only; setsockopt
#     passes level/option to sl_SetSockOpt (SL_SOL_SOCKET 1: SL_SO_KEEPALIVE 9, SL_SO_RCVTIMEO 20,
#     SL_SO_NONBLOCKING 24, SL_SO_SECMETHOD 25; anything else: SL_ENOPROTOOPT -> OSError(92));
#   * SL_MAX_SOCKETS = 8 network-processor sockets (drivers/cc3100/inc/simplelink.h), shared with the telnet
#     and FTP servers that serverstask.c starts at boot: telnet.c holds one (its listener, or its client while
#     the listener is closed), ftp.c its listener, a control client, and a passive listener plus a data
#     socket during a transfer.  The virtual board's servers publish how many they hold as the size of
#     /.nwp/sockets (host_harness/virtual/services/nwp.py; read with one stat, no file object); without them
#     the two listeners of an idle board are counted.  One more fails as sl_Socket does, SL_ENSOCK (-10),
#     negated by socket_make_new() -> OSError(10) (verify on hardware);
#   * settimeout() takes whole seconds only (mp_obj_get_int: a float is a TypeError); timeouts are emulated
#     with non-blocking mode in SOCKET_TIMEOUT_QUANTA_MS = 20 ms steps -> ETIMEDOUT (110), non-blocking ->
#     EAGAIN (11), non-blocking connect -> EINPROGRESS (115) while SimpleLink says SL_EALREADY;
#   * SimpleLink's negative errors become positive OSError numbers (convert_sl_errno);
#   * recv/recvfrom take no flags and read at most WLAN_MAX_RX_SIZE = 16000 bytes; sendall is send;
#     read() is read1 (one recv);
#   * sl_Send (drivers/cc3100/src/socket.c) takes an _i16 length and sends it in chunks of 1460 bytes
#     (1386 on a secure socket, _SlPayloadByProtocolLUT); when the NWP is non-blocking and its TX buffers are
#     full (_SlDrvDataWriteOp, driver.c) a chunk fails with SL_EAGAIN although the chunks before it went out,
#     and the caller is told nothing was sent: a retry duplicates them.  A length of 32768..65535 is negative
#     to the driver (the real one then walks past the buffer; the model stops at its end) and ends in
#     OSError(-length16); a larger one is cut to length mod 65536.  sl_SendTo splits a datagram the same way
#     (1472 bytes a piece);
#   * IPPROTO_SEC: after ssl.wrap_socket(), connect() starts TCP, and the network processor then runs the TLS
#     handshake by itself (nwp_tls.py: here the unix port's mbedTLS over the same descriptor, moved on whenever
#     the host talks to the NWP).  A non-blocking sl_Connect answers SL_EALREADY until both are done, so
#     settimeout(t) bounds them together (modsocket.c wlan_socket_connect); sl_Select shows a connecting
#     secure socket neither readable nor writable until the result is there (nwp_tls.py's header).  The method
#     is ssl_version (SL_SO_SECMETHOD), by default SL_SO_SEC_METHOD_TLSV1: TLS 1.0 only.  mbedTLS 3.6 speaks no
#     TLS < 1.2, so the model treats every server as TLS 1.2-only (the harness's TLS peers answer TLS 1.2):
#     SSLv3/TLSv1/TLSv1_1 fail the handshake as the NWP reports the server's protocol_version alert,
#     OSError(370) SL_ESEC_PROTOCOL_VERSION (verify on hardware); TLSv1_2 (3) and SSLv3_TLSV1_2 (4) negotiate
#     TLS 1.2.  The CA is read from the NWP's own hidden file system (nwp_fs.py), never from the FAT file
#     system: modssl.c strips "/flash" and the NWP opens "/cert/ca.pem", which only the FTP server writes
#     (ftp/updater.c).  PEM, converted to DER here with binascii (the unix build takes DER only).  Chain and
#     dates are checked; the board never checks the host name (the SDK's SimpleLink has no domain-name
#     option) but this model must (nwp_tls.py).  Without verification connect() raises OSError(453) although
#     the link is up: modsocket.c compares the negated errno with SL_ESECSNOVERIFY (-453).  A chain failure
#     is OSError(229) SL_ESEC_VERIFY_CERT_ERROR, an expired peer OSError(461) SL_ESECDATEERROR, "connected
#     with certificate date verification error" (both: verify on hardware).
# The float-less, async-less interpreter is enforced by the virtual board (host_harness/virtual/device/
# vboard.py, docs/fidelity.md), not here.
import binascii
import io
import os
import select
import time
import usocket as _u

from micropython import const
import nwp_fs
import nwp_tls
import mp_stream as _stream  # models/_common
from unix_sockaddr import poll_one as _poll, unaddr as _unaddr  # models/_common

AF_INET = const(2)
SOCK_STREAM = const(1)
SOCK_DGRAM = const(2)
IPPROTO_SEC = const(100)
IPPROTO_TCP = const(6)
IPPROTO_UDP = const(17)

_MAX_SOCKETS = const(8)  # SL_MAX_SOCKETS
_CHUNK = const(1460)  # TCP over IPv4 (_SlPayloadByProtocolLUT)
_CHUNK_SEC = const(1386)  # secure TCP over IPv4
_CHUNK_UDP = const(1472)
_ESEC_PROTOCOL_VERSION = const(370)  # SL_ESEC_PROTOCOL_VERSION, negated
_ESECNOCAFILE = const(454)
_QUANTUM_MS = const(20)
_MAX_RX = const(16000)
_EAGAIN = const(11)
_EINPROGRESS = const(115)
_EALREADY = const(114)
_EISCONN = const(106)
_ETIMEDOUT = const(110)
_EBADF = const(9)
_ENSOCK = const(10)
_ENOPROTOOPT = const(92)
_ESECSNOVERIFY = const(453)
_ESECCLOSED = const(452)
_open = [0]


def _full():
    # No name here but _full is new to the interpreter's qstrs (os, stat: ROM; n: the module has it): every new
    # identifier in a model takes qstr pool room that the C module's would not, and the 48 KiB heap's
    # application cases (umqtt compiled on the board) have a margin of a few qstrs.
    try:
        n = os.stat("/.nwp/sockets")[6]  # its size is the servers' socket count
    except OSError:
        n = 2  # no virtual servers: the telnet and FTP listeners of an idle board
    return _open[0] + n >= _MAX_SOCKETS


def _sockaddr(address, kind):
    # netutils_parse_inet_addr(): (numeric ip, port); "" is INADDR_ANY; names are ValueError.
    host, port = address
    if host == "":
        host = "0.0.0.0"
    parts = host.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ValueError("invalid arguments")
    return _u.getaddrinfo(host, port, _u.AF_INET, kind)[0][-1]


def getaddrinfo(host, port):
    # mod_socket_getaddrinfo(): exactly 2 args, one entry (2, 1, 0, '', (ip, port)); a failed lookup is
    # OSError(-result) with result a negative SimpleLink DNS code, i.e. a positive number: 163
    # (SL_NET_APP_DNS_QUERY_FAILED) for a name that cannot be resolved.
    try:
        r = _u.getaddrinfo(host, port, _u.AF_INET, _u.SOCK_STREAM)
    except OSError:
        raise OSError(163)
    return [(AF_INET, SOCK_STREAM, 0, "", _unaddr(r[0][-1]))]


class _SD:
    # One SimpleLink descriptor: shared by a socket and the "SSL socket" wrap_socket() makes of it.
    def __init__(self, s, type, proto):
        self.s = s
        self.type = type
        self.sec = proto == IPPROTO_SEC
        self.ca = None  # CA file name (CERT_REQUIRED)
        self.method = 1  # SL_SO_SECMETHOD: SL_SO_SEC_METHOD_TLSV1 unless ssl_version says otherwise
        self.tls = None  # the secured stream, once the handshake succeeded
        self.state = None  # IPPROTO_SEC: the NWP's handshake (nwp_tls.Handshake), from TCP up
        self.sa = None  # where connect() goes (the NWP keeps connecting without the host)
        self.res = None  # IPPROTO_SEC: what the next sl_Connect answers once TCP + handshake are over
        self.tcp_up = False
        self.timeout_ms = -1  # cc3200 default: blocking (timeout_ms 0 in the C struct means blocking there)


def _der(path):
    # The NWP opens the CA by its name in its own file system ("/flash/cert/ca.pem" -> "/cert/ca.pem").
    pem = nwp_fs.read(path[6:])
    if pem is None:
        raise OSError(_ESECNOCAFILE)
    buf = nwp_fs._buf  # (pem is a view of it; bytearray.find searches in place)
    i = buf.find(b"-----BEGIN CERTIFICATE-----", 0, len(pem))
    j = buf.find(b"-----END CERTIFICATE-----", 0, len(pem))
    if i < 0 or j < i:
        raise OSError(456)  # SL_ESECBADCAFILE
    return binascii.a2b_base64(pem[i + 27:j])  # (a2b_base64 skips the line breaks)


class socket(io.IOBase):
    def __init__(self, family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None):
        if _full():
            raise OSError(_ENSOCK)
        try:
            s = _u.socket(family, type, 6 if proto == IPPROTO_SEC else proto)
        except OSError as e:
            raise OSError(e.args[0])
        s.setblocking(False)
        _open[0] += 1
        self._d = _SD(s, type, proto)

    # -- helpers --------------------------------------------------------------------------------------
    def _n(self):
        if self._d is None or self._d.s is None:
            raise OSError(_EBADF)
        return self._d

    def _loop(self, op, ev, a):
        # check_timedout(): retry in 20 ms quanta while SimpleLink says EAGAIN.
        d = self._n()
        left = d.timeout_ms
        while True:
            try:
                return op(d, a)
            except OSError as e:
                n = e.args[0]
                if n != _EAGAIN:
                    raise OSError(n)
            if left == 0:
                raise OSError(_ETIMEDOUT if d.timeout_ms > 0 else _EAGAIN)
            _poll(d.s, ev, _QUANTUM_MS)
            if left > 0:
                left = left - _QUANTUM_MS if left > _QUANTUM_MS else 0

    def _secured(self, ca, method):
        # ssl.wrap_socket(): the options go to the descriptor (sl_SetSockOpt); a new object shares it
        d = self._n()
        d.ca = ca
        d.method = method
        return _Shared(d)

    # -- socket API -----------------------------------------------------------------------------------
    def close(self):
        d = self._d
        if d is not None and d.s is not None:
            if d.state is not None:
                try:
                    d.state.tls.close()
                except OSError:
                    pass
            d.s.close()
            d.s = None
            _open[0] -= 1

    def bind(self, address):
        d = self._n()
        try:
            d.s.bind(_sockaddr(address, _u.SOCK_STREAM))
        except OSError as e:
            raise OSError(e.args[0])

    def listen(self, backlog=2):
        d = self._n()
        try:
            d.s.listen(backlog if backlog > 0 else 0)
        except OSError as e:
            raise OSError(e.args[0])

    def accept(self):
        def op(d, a):
            return d.s.accept()

        ns, sa = self._loop(op, select.POLLIN, None)
        if _full():
            ns.close()
            raise OSError(_ENSOCK)
        _open[0] += 1
        ns.setblocking(False)
        c = _Shared(_SD(ns, SOCK_STREAM, IPPROTO_TCP))
        c._d.timeout_ms = self._d.timeout_ms  # "the new socket inherits all properties from its parent"
        c._d.tcp_up = True
        return c, _unaddr(sa)

    def connect(self, address):
        d = self._n()
        sa = _sockaddr(address, _u.SOCK_STREAM)
        left = d.timeout_ms
        while True:
            r = self._sl_connect(d, sa)
            if r == 0:
                return
            if r != _EALREADY:
                # connect(): `!cert_req && _errno == SL_ESECSNOVERIFY` never matches (453 vs -453)
                raise OSError(r)
            if d.timeout_ms == 0:
                raise OSError(_EINPROGRESS)
            if left == 0:
                raise OSError(_ETIMEDOUT)
            time.sleep_ms(_QUANTUM_MS)
            if left > 0:
                left = left - _QUANTUM_MS if left > _QUANTUM_MS else 0

    def _sl_connect(self, d, sa):
        # One sl_Connect(): 0 done, EALREADY while TCP (or, for IPPROTO_SEC, the handshake) is under way,
        # else the (positive) error.
        d.sa = sa
        r = self._handshake(d)
        if d.sec and (r == 0 or r == _ESECSNOVERIFY):
            d.res = _EISCONN  # told once; the next sl_Connect finds the socket connected
        return r

    def _handshake(self, d):
        # What the NWP has done for this connect by now (it goes on whether the host asks or not: ioctl asks
        # too): TCP, then for IPPROTO_SEC the TLS handshake (nwp_tls.py).  EALREADY while under way, else the
        # result; a secure socket keeps it (d.res).
        if d.res is not None:
            return d.res
        if not d.tcp_up:
            try:
                d.peer = _unaddr(d.sa)[0]
                d.s.connect(d.sa)
            except OSError as e:
                n = e.args[0]
                if n in (115, _EALREADY, _EAGAIN):
                    return _EALREADY
                if n != _EISCONN:
                    if d.sec:
                        d.res = n
                    return n
            d.tcp_up = True
        if not d.sec:
            return 0
        if d.state is None:
            # TCP is up: the NWP starts the handshake with the method and CA file it was given
            ca = None
            r = _ESEC_PROTOCOL_VERSION if d.method < 3 else 0  # TLS <= 1.1 to a TLS 1.2 server (the header)
            if not r and d.ca is not None:
                try:
                    ca = _der(d.ca)
                except OSError as e:
                    r = e.args[0]  # SL_ESECNOCAFILE / SL_ESECBADCAFILE
            if r:
                d.res = r
                return r
            d.state = nwp_tls.Handshake(d.s, ca, d.peer)
        r = d.state.step()
        if r is None:
            return _EALREADY
        if r == 0 or r == _ESECSNOVERIFY:
            d.tls = d.state.tls
        d.res = r
        return r

    def _wait(self, d):
        # sl_Recv/sl_Send on a secure socket whose handshake is not over: the NWP moves on; the host waits
        # (SL_EAGAIN) or learns the handshake's failure.
        if d.state is not None and d.tls is None:
            r = self._handshake(d)
            if d.tls is None:
                raise OSError(_EAGAIN if r == _EALREADY else r)

    def _recv(self, d, n):
        # One sl_Recv: n, a count (recv: new bytes) or the caller's buffer (readinto: filled in place, the
        # count; socket_read takes no buffer of its own).  (One method for both: no new name in the model.)
        self._wait(d)
        if d.tls is not None:
            r = d.state.data  # the one byte that came in with the end of the handshake
            if r:
                d.state.data = b""
                if type(n) is int:
                    return r
                n[0] = r[0]
                return 1
            r = d.tls.recv(n) if type(n) is int else d.tls.readinto(n)
        elif type(n) is int:
            return d.s.recv(n)
        else:
            r = d.s.readinto(n)
        if r is None:
            raise OSError(_EAGAIN)
        return r

    def recv(self, bufsize):
        n = bufsize if bufsize < _MAX_RX else _MAX_RX
        return self._loop(self._recv, select.POLLIN, n)

    def recvfrom(self, bufsize):
        n = bufsize if bufsize < _MAX_RX else _MAX_RX

        def op(d, a):
            data, sa = d.s.recvfrom(a)
            return data, _unaddr(sa)

        return self._loop(op, select.POLLIN, n)

    def _send(self, d, buf):
        # sl_Send(sd, buf, (_i16)len, 0): chunk by chunk; the first chunk the NWP cannot take fails the call.
        n = len(buf) & 0xFFFF
        if n & 0x8000:
            n -= 0x10000
        if not len(buf):
            return 0
        self._wait(d)
        mv = memoryview(buf)
        limit = n if n > 0 else len(buf)
        step = _CHUNK_SEC if d.tls is not None else _CHUNK
        off = 0
        while off < limit:
            if d.timeout_ms >= 0 and not _poll(d.s, select.POLLOUT, 0):
                raise OSError(_EAGAIN)  # SL_EAGAIN: no TX buffer (the chunks before this one are gone)
            self._chunk(d, mv[off:off + step if off + step < limit else limit])
            off += step
        if n <= 0:
            raise OSError(-n)  # the driver's negative return, negated by check_timedout()
        return n

    def _chunk(self, d, piece):
        # One chunk into the NWP: it takes all of it once it has a buffer (blocking until then).
        d.s.setblocking(True)
        try:
            if d.tls is not None:
                d.tls.write(piece)
            else:
                d.s.write(piece)
        finally:
            d.s.setblocking(False)

    def send(self, buf):
        return self._loop(self._send, select.POLLOUT, buf)

    sendall = send  # modsocket.c: sendall is send (may be partial)

    def sendto(self, buf, address):
        sa = _sockaddr(address, _u.SOCK_DGRAM)

        def op(d, a):
            # sl_SendTo: one datagram per 1472-byte piece
            mv = memoryview(a)
            for i in range(0, len(mv), _CHUNK_UDP):
                d.s.sendto(mv[i:i + _CHUNK_UDP], sa)
            return len(mv)

        return self._loop(op, select.POLLOUT, buf)

    def setsockopt(self, level, opt, value):
        d = self._n()
        if level != 1:
            raise OSError(_ENOPROTOOPT)
        if opt == 9:  # SL_SO_KEEPALIVE
            d.s.setsockopt(_u.SOL_SOCKET, _u.SO_KEEPALIVE, value)
        elif opt == 24:  # SL_SO_NONBLOCKING
            self.settimeout(0 if value else None)
        elif opt == 25:  # SL_SO_SECMETHOD: the method byte
            d.method = value if type(value) is int else bytes(value)[0]
        elif opt in (20, 26):  # RCVTIMEO / SECURE_MASK: accepted by the NWP
            pass
        else:
            raise OSError(_ENOPROTOOPT)

    def settimeout(self, value):
        d = self._n()
        if value is None:
            d.timeout_ms = -1
            return
        if type(value) is not int:  # mp_obj_get_int()
            raise TypeError("can't convert %s to int" % type(value).__name__)
        d.timeout_ms = value * 1000

    def setblocking(self, flag):
        self.settimeout(None if flag else 0)

    def makefile(self, *args):
        return self

    # -- stream (mp_stream_read1 / readinto / unbuffered readline / write) ------------------------------
    def read(self, size=-1):
        if size is None or size < 0:
            return _stream.readall(self.read)  # stream_readall(): socket_read 256 bytes at a time
        try:
            return self.recv(size)
        except OSError as e:
            if e.args[0] == _ESECCLOSED:
                return b""  # socket_read(): SL_ESECCLOSED is EOF
            if e.args[0] == _EAGAIN:
                return None
            raise

    def readinto(self, buf, nbytes=None):
        # mp_stream_readinto: socket_read into buf itself (wlan_socket_recv -> sl_Recv(buf, MIN(len,
        # WLAN_MAX_RX_SIZE))), so no heap is taken; nothing is read for an empty buffer (mp_stream_rw).
        mv = _stream.view(buf, True, nbytes)  # a read-only buffer: TypeError at once, data or not
        if not len(mv):
            return 0
        try:
            return self._loop(self._recv, select.POLLIN, mv[:_MAX_RX] if len(mv) > _MAX_RX else mv)
        except OSError as e:
            if e.args[0] == _ESECCLOSED:
                return 0  # socket_read(): SL_ESECCLOSED is EOF
            if e.args[0] == _EAGAIN:
                return None
            raise

    def readline(self):
        line = b""
        while True:
            c = self.read(1)
            if not c:
                return line if (line or c is not None) else None
            line += c
            if c == b"\n":
                return line

    def write(self, buf, a=None, b=None):
        try:
            return self.send(_stream.view(buf, False, a, b))  # write(buf[, max_len]), write(buf, off, max_len)
        except OSError as e:
            if e.args[0] == _EAGAIN:
                return None
            raise

    def ioctl(self, req, arg):
        # wlan_socket_ioctl(): MP_STREAM_POLL via sl_Select (no fd is exposed: MP_STREAM_GET_FILENO fails)
        if req == 3:
            d = self._d
            if d is None or d.s is None:
                return 0x20
            if d.sec and d.sa is not None and d.res is None and self._handshake(d) == _EALREADY:
                return 0  # a secure socket still connecting: nothing to report (nwp_tls.py's header)
            r = _poll(d.s, arg, 0)
            ev = r[0][1] if r else 0
            if d.res not in (None, 0, _ESECSNOVERIFY, _EISCONN):
                ev |= arg & select.POLLOUT  # the connect failed: the next sl_Connect tells why
            if d.state is not None and d.state.data:
                ev |= arg & select.POLLIN
            return ev
        if req == 4:
            self.close()
            return 0
        return -22


class _Shared(socket):
    # A socket object over an existing descriptor (accept(), ssl.wrap_socket()).
    def __init__(self, d):
        self._d = d
