# Port model (wipy): the TLS client inside the CC3200's network processor (NWP), which runs the handshake of an
# IPPROTO_SEC socket by itself once its TCP connection is up.  What the host sees of it (upstream):
#   * drivers/cc3100/src/socket.c sl_Connect: the host driver sends SL_OPCODE_SOCKET_CONNECT; only when the
#     NWP's immediate answer is OK does it wait (_SlDrvSyncObjWaitForever) for the asynchronous connect
#     response (_sl_HandleAsync_Connect), whose status is the handshake's result: a blocking secure connect
#     returns after TCP and TLS.  A non-blocking socket (SL_SO_NONBLOCKING) gets its answer at once:
#     SL_EALREADY "Non blocking connect in progress, try again" (drivers/cc3100/inc/socket.h) while the NWP
#     connects and handshakes, and a later sl_Connect returns the result -- 0, SL_ESECSNOVERIFY (-453),
#     SL_ESECDATEERROR (-461), SL_ESEC_* errors.  (A CC3200 user of the same driver relies on exactly that:
#     cesanta/mongoose-os common/platforms/simplelink/sl_net_if.c mg_mgr_handle_conn waits until sl_Select
#     says "writable" and calls sl_Connect again, "which will now return the real status", there
#     SL_ESECSNOVERIFY or SL_ESECDATEERROR.)
#   * so ports/cc3200/mods/modsocket.c wlan_socket_connect's loop (sl_Connect while SL_EALREADY, check_timedout
#     in 20 ms quanta, then MP_ETIMEDOUT) bounds TCP + handshake together: settimeout(t) is one deadline;
#   * the NWP gives up on a handshake that outlives its own timer with SL_ESECHANDSHAKETIMEDOUT (-462,
#     "connection timed out due to handshake time", socket.h).  The SDK states no length: the model
#     gives it 10 s (verify on hardware).
# Here the unix port's mbedTLS (extmod/modtls_mbedtls.c, non-blocking, do_handshake_on_connect=False) is that
# client; every time the host talks to the NWP about the socket (sl_Connect, sl_Select, sl_Recv, sl_Send) the
# model moves the handshake on by what has arrived, as the NWP would have done meanwhile.
import io
import time
import tls

from micropython import const

_ESECSNOVERIFY = const(453)
_ESECDATEERROR = const(461)
_ESEC_VERIFY_CERT = const(229)
_ESECHANDSHAKETIMEDOUT = const(462)
_ESECCLOSED = const(452)

# (Names here and in socket.py's NWP part are ones the interpreter already interns where it can: on the board
# the model is C in flash, and every new name the model adds fills the qstr pool user code shares here.)


# The NWP's TLS engine lives in its own RAM, not in the MCU's heap: the configuration of an unverified
# handshake (WiPy's CERT_NONE default; the unix `tls` module's SSLContext, ~3 KiB of entropy and DRBG state
# in this interpreter's heap) is made once when the model is imported, before the virtual board sets the
# user's heap aside (vboard.py _reserve), and shared by every such socket (`context`: a name the interpreter
# interns already).  A verifying handshake, rare and with the CA of that moment, still makes its own context
# in the user's heap (docs/fidelity.md W22).
context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
context.verify_mode = tls.CERT_NONE


class Handshake(io.IOBase):
    """The NWP's handshake over the connected unix socket `sock`: step() -> None while under way, else its result
    as the positive SimpleLink number sl_Connect reports (0, 453 unverified, or an error); `tls`, the secured
    stream; `data`, application data that came in with the end of the handshake."""

    def __init__(self, sock, ca, host):
        if ca is None:
            ctx = context
        else:
            ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = tls.CERT_REQUIRED
            ctx.load_verify_locations(ca)
        self.sock = sock
        self.ca = ca is not None
        # The server's records, followed (see readinto): header bytes seen, record type, high length byte,
        # body bytes still to come, ChangeCipherSpec seen, handshake over.
        self.off = self.type = self.hi = self.left = 0
        self.flag = self.done = False
        # The NWP is given no host name (modssl.c sets none) and checks none.  This unix mbedTLS (3.6) refuses
        # CERT_REQUIRED without a name, so the model checks the connected IP: stricter than the board on a
        # wrong-host certificate (docs/fidelity.md W18).
        self.tls = ctx.wrap_socket(self, server_hostname=host if self.ca else None, do_handshake_on_connect=False)
        self.data = b""
        self.ret = None
        self.t0 = time.ticks_ms()
        self.buf = bytearray(1)

    # -- the TCP stream under the TLS engine: mbedTLS reads and writes it through py/modio.c iobase_read_write
    #    (None: would block; -errno: an error).  The NWP knows from its own state when the handshake is over;
    #    the unix `tls` module has no such call, so the server's records are followed: in TLS 1.2 (the NWP's
    #    newest, SL_SO_SEC_METHOD_TLSV1_2, and this mbedTLS build's only version) the client's handshake ends
    #    with the server's Finished, the first handshake record (22) after its ChangeCipherSpec (20).
    def readinto(self, b):
        try:
            n = self.sock.readinto(b)
        except OSError as e:
            return -e.args[0]
        i = 0
        while n and i < n and not self.done:
            if self.off == 0 and self.left:
                k = self.left if self.left < n - i else n - i
                self.left -= k
                i += k
                self.done = not self.left and self.type == 22 and self.flag
                continue
            c = b[i]
            i += 1
            if self.off == 0:
                self.type = c
            elif self.off == 3:
                self.hi = c
            elif self.off == 4:
                self.left = self.hi << 8 | c
                self.flag = self.flag or self.type == 20
            self.off = (self.off + 1) % 5
        return n

    def write(self, b):
        try:
            return self.sock.write(b)
        except OSError as e:
            return -e.args[0]

    def ioctl(self, req, arg):
        return 0  # close: the model closes the descriptor itself; poll: the model polls the socket itself

    def step(self):
        if self.ret is not None:
            return self.ret
        try:
            # a read drives mbedTLS's handshake (modtls_mbedtls.c socket_read -> mbedtls_ssl_read); one byte
            # at most, kept for the first recv in case the server spoke first
            n = self.tls.readinto(self.buf)
        except ValueError as e:  # modtls_mbedtls.c: a refused certificate is ValueError(text)
            self.ret = _ESECDATEERROR if "expired" in str(e) else _ESEC_VERIFY_CERT
            return self.ret
        except OSError:
            self.ret = _ESECCLOSED  # the peer closed or reset the connection mid-handshake
            return self.ret
        if n:
            self.data = bytes(self.buf)
        if self.done:
            self.ret = 0 if self.ca else _ESECSNOVERIFY
        elif n == 0:
            self.ret = _ESECCLOSED
        elif time.ticks_diff(time.ticks_ms(), self.t0) > 10000:  # the NWP's own timer (see the header)
            self.ret = _ESECHANDSHAKETIMEDOUT
        return self.ret
