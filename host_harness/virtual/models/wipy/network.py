# Port model (wipy): the station side of the cc3200 `network.WLAN` class (ports/cc3200/mods/modwlan.c):
# WLAN(mode=WLAN.STA), connect(ssid, auth=(sec, key), *, bssid=None, timeout=None) blocking until
# connected or OSError(ETIMEDOUT) -- a wrong key or a missing AP shows only as that timeout --,
# isconnected(), ifconfig() -> (ip, netmask, gateway, dns).  The "access point" is wlan_env.py.
# Every connect/disconnect is a WLAN event, on which modwlan.c calls servers_reset(): the telnet and FTP
# sessions drop (appended to /.nwp/wlan for the virtual board's servers, host_harness/virtual/services).
import time

import wlan_env


def _wlan_event():
    try:
        with open("/.nwp/wlan", "ab") as f:
            f.write(b"e")
    except OSError:
        pass


class WLAN:
    STA = 1
    AP = 2
    P2P = 3
    WEP = 1
    WPA = 2
    WPA2 = 2
    INT_ANT = 0
    EXT_ANT = 1
    _state = {"mode": 2, "up": False}  # the WiPy boots as an access point

    def __init__(self, id=0, mode=None, **kw):
        if mode is not None:
            if mode not in (1, 2, 3):
                raise ValueError("invalid argument(s) value")
            self._state["mode"] = mode
            self._state["up"] = False

    def mode(self, mode=None):
        if mode is None:
            return self._state["mode"]
        self._state["mode"] = mode

    def connect(self, ssid, auth=None, *, bssid=None, timeout=None):
        if self._state["mode"] == 2:
            raise OSError(1)  # MP_EPERM: not in station mode
        if auth is not None and (type(auth) is not tuple or len(auth) != 2):
            raise ValueError("invalid argument(s) value")
        key = auth[1] if auth else None
        wait_ms = 15000 if timeout is None else timeout
        time.sleep_ms(min(wlan_env.ASSOC_MS, wait_ms))
        if wlan_env.verdict(ssid, key) != "ok":
            time.sleep_ms(max(0, wait_ms - wlan_env.ASSOC_MS))
            raise OSError(110)  # MP_ETIMEDOUT
        self._state["up"] = True
        _wlan_event()

    def disconnect(self):
        self._state["up"] = False
        _wlan_event()

    def isconnected(self):
        return self._state["up"]

    def ifconfig(self, id=0, config=None):
        if config is not None:
            return None
        if not self._state["up"]:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return (wlan_env.board_ip(), wlan_env.NETMASK, wlan_env.gateway(), wlan_env.gateway())
