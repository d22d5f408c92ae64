# Port model (wipy): the network processor's own hidden file system (SimpleLink sl_Fs*), where the NWP reads
# the TLS CA, certificate and key.  On the board only the FTP server writes it: ports/cc3200/ftp/updater.c
# maps the upload paths /flash/cert/ca.pem, /flash/cert/cert.pem, /flash/cert/private.key to the NWP files
# /cert/ca.pem, /cert/cert.pem, /cert/private.key (bootmgr/flc.h CA_FILE...; at most CA_KEY_SIZE = 4 KiB),
# and "they are never visible" to Python (docs/wipy/general.rst).  A file Python writes under /flash/cert/
# lands in the FAT file system, which the NWP never reads.
#
# Here it is a host folder outside the board's flash: $VBOARD_NWP_FS, else the flash folder's sibling
# "<flash dir>.nwp" (the virtual board's FTP server writes there).  Reached through os.VfsPosix, so
# nothing of it is mounted where user code could see it.
import os

_MAX = 4096  # CA_KEY_SIZE
# The NWP reads a file into its own RAM, not the MCU's heap: one buffer made when the model is imported, before
# the virtual board sets the user's heap aside (vboard.py _reserve), so a handshake takes no 4 KiB from it.
_buf = bytearray(_MAX)


def folder():
    d = os.getenv("VBOARD_NWP_FS")
    if d:
        return d
    fs = os.getenv("VBOARD_FS")
    return fs.rstrip("/") + ".nwp" if fs else None


def read(name):
    """The NWP file `name` ("/cert/ca.pem") as a memoryview of the NWP's buffer (valid until the next read),
    or None when the NWP has no such file."""
    d = folder()
    if d is None:
        return None
    try:
        f = os.VfsPosix(d).open(name, "rb")
    except OSError:
        return None
    try:
        n = f.readinto(_buf)
    finally:
        f.close()
    return memoryview(_buf)[:n or 0]
