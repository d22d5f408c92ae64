# usocket_target_more for MicroPython on ESP32: the glue's rarely used part, loaded on first use by
# usocket_target.__getattr__ (ports/esp32/usocket_target.py) so `import usocket_port` stays small.
import errno
import time

import usocket_target as _t


# ---- network bring-up ----------------------------------------------------------------------------------
def connect_network(ssid, key, timeout_ms=20000):
    """Join `ssid` as a station; returns the board's IP.  OSError(ETIMEDOUT, text) past timeout_ms,
    OSError(EIO, text) when the firmware reports a failure (no AP, wrong password...)."""
    import network
    w = network.WLAN(network.STA_IF)
    w.active(True)
    if w.isconnected() or w.status() == getattr(network, "STAT_CONNECTING", 1001):
        w.disconnect()  # join with these arguments: a station already up may be on another network or key
    w.connect(ssid, key)
    fail = {getattr(network, "STAT_NO_AP_FOUND", 201): "no access point named %r" % (ssid,),
            getattr(network, "STAT_WRONG_PASSWORD", 202): "wrong password for %r" % (ssid,),
            getattr(network, "STAT_ASSOC_FAIL", 203): "association with %r failed" % (ssid,),
            getattr(network, "STAT_HANDSHAKE_TIMEOUT", 204): "handshake with %r timed out" % (ssid,)}
    t0 = _t.ticks_ms()
    while not w.isconnected():
        st = w.status()
        if st in fail:
            w.active(False)
            raise OSError(_t.EIO, "wlan: " + fail[st])
        if _t.ticks_diff(_t.ticks_ms(), t0) > timeout_ms:
            w.active(False)
            raise OSError(errno.ETIMEDOUT,
                          "wlan: no connection to %r within %d ms (status %r)" % (ssid, timeout_ms, st))
        time.sleep_ms(50)
    return w.ifconfig()[0]
