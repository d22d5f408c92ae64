"""WebREPL's binary file protocol (extmod/modwebrepl.c; client side as micropython-lib's webrepl_cli does it).

A request is one binary frame holding `struct webrepl_file`: b"WA", type (1 PUT, 2 GET, 3 GET_VER), flags,
offset (u64), size (u32), name length (u16), name (64 bytes) -- 82 bytes, little-endian, packed.  The board
answers b"WB" + u16 code (always 0).  PUT: then the file's bytes in binary frames, then a final b"WB\\0\\0".
GET: the client sends b"\\0" per chunk and gets u16 length + up to 256 bytes; length 0 ends, then b"WB\\0\\0".
There are no error replies: if open() fails on the board the exception ends the session (dupterm drops it),
so a request that gets no answer within the deadline, or a closed session, is reported as that.
"""

from __future__ import annotations

import struct

import serial

from ..errors import TransportError
from ..transport.urls.protocol_webrepl import Serial as WebreplSerial

HEADER = struct.Struct("<2sBBQLH64s")  # 82 bytes
PUT_FILE, GET_FILE, GET_VER = 1, 2, 3
NAME_MAX = 64
RESP_OK = b"WB\x00\x00"
_CHUNK = 1024  # PUT payload per frame; the board reads at most 512 at a time anyway


class WebreplFileError(TransportError):
    """A WebREPL file transfer failed (name too long, no answer, session closed)."""


def _header(kind: int, name: str, size: int = 0) -> bytes:
    raw = name.encode()
    if not raw or len(raw) > NAME_MAX:
        raise WebreplFileError(f"WebREPL file names have 1 to {NAME_MAX} bytes, {name!r} has {len(raw)}")
    return HEADER.pack(b"WA", kind, 0, 0, size, len(raw), raw)


def _expect(link: WebreplSerial, what: str, timeout: float) -> bytes:
    try:
        return link.recv_binary(timeout)
    except TimeoutError:
        raise WebreplFileError(f"{what}: no answer within {timeout:g} s (the board sends no error replies: "
                               "a file it cannot open ends the session)") from None
    except serial.SerialException as exc:
        raise WebreplFileError(f"{what}: the board ended the WebREPL session ({exc}); WebREPL sends no error "
                               "replies: usually the file could not be opened (missing folder, bad name)") from None


def put(link: WebreplSerial, remote: str, data: bytes, *, timeout: float = 30.0) -> None:
    what = f"WebREPL put {remote}"
    link.send_binary(_header(PUT_FILE, remote, len(data)))
    if _expect(link, what, timeout) != RESP_OK:
        raise WebreplFileError(f"{what}: unexpected answer to the request")
    for i in range(0, len(data), _CHUNK):
        link.send_binary(data[i:i + _CHUNK])
    if _expect(link, what, timeout) != RESP_OK:
        raise WebreplFileError(f"{what}: unexpected final answer")


def get(link: WebreplSerial, remote: str, *, timeout: float = 30.0) -> bytes:
    what = f"WebREPL get {remote}"
    link.send_binary(_header(GET_FILE, remote))
    if _expect(link, what, timeout) != RESP_OK:
        raise WebreplFileError(f"{what}: unexpected answer to the request")
    out = bytearray()
    pending = b""
    while True:
        link.send_binary(b"\x00")
        pending += _expect(link, what, timeout)
        while len(pending) < 2:
            pending += _expect(link, what, timeout)
        (size,) = struct.unpack("<H", pending[:2])
        while len(pending) < 2 + size:
            pending += _expect(link, what, timeout)
        out += pending[2:2 + size]
        pending = pending[2 + size:]
        if size == 0:
            break
    tail = pending or _expect(link, what, timeout)
    if tail != RESP_OK:
        raise WebreplFileError(f"{what}: unexpected final answer")
    return bytes(out)


def version(link: WebreplSerial, *, timeout: float = 10.0) -> tuple[int, int, int]:
    """MicroPython version of the board (GET_VER: three bytes, major minor micro)."""
    link.send_binary(HEADER.pack(b"WA", GET_VER, 0, 0, 0, 0, b""))  # no name, as webrepl_cli sends it
    ver = _expect(link, "WebREPL version", timeout)
    if len(ver) != 3:
        raise WebreplFileError(f"WebREPL version: unexpected answer {ver!r}")
    return ver[0], ver[1], ver[2]
