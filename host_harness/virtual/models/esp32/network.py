# Port model (esp32): the station side of MicroPython's esp32 `network` module (ports/esp32/network_wlan.c,
# ports/esp32/modnetwork_globals.h): WLAN(STA_IF) with active/connect/isconnected/status/ifconfig/config.
# The "access point" is the virtual board's network: SSID/key/IPs come from the environment the virtual
# board is started with (wlan_env.py), so a station reports the board's namespace IP.
import time

import wlan_env

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204

_wlans = {}


class WLAN:
    def __new__(cls, interface_id=STA_IF):
        # network_wlan.c keeps one object per interface
        w = _wlans.get(interface_id)
        if w is None:
            w = object.__new__(cls)
            w._if = interface_id
            w._active = False
            w._status = STAT_IDLE
            w._t = None
            w._ok = False
            _wlans[interface_id] = w
        return w

    def __init__(self, interface_id=STA_IF):
        pass

    def active(self, flag=None):
        if flag is None:
            return self._active
        self._active = bool(flag)
        if not self._active:
            self._status = STAT_IDLE
            self._t = None

    def _check(self):
        if not self._active:
            raise OSError(-20485, "Wifi Not Started")  # ESP_ERR_WIFI_NOT_STARTED (0x3005), negated

    def connect(self, ssid=None, key=None, *, bssid=None):
        self._check()
        # Asynchronous as on the board: the verdict shows in status() after association time.
        self._status = STAT_CONNECTING
        self._t = time.ticks_ms()
        self._verdict = wlan_env.verdict(ssid, key)

    def disconnect(self):
        self._status = STAT_IDLE
        self._t = None

    def status(self, param=None):
        if param is not None:
            raise ValueError("unknown status param")
        if self._t is not None and time.ticks_diff(time.ticks_ms(), self._t) >= wlan_env.ASSOC_MS:
            v = self._verdict
            self._status = {"ok": STAT_GOT_IP, "no_ap": STAT_NO_AP_FOUND, "key": STAT_WRONG_PASSWORD}[v]
            self._t = None
        return self._status

    def isconnected(self):
        return self._active and self.status() == STAT_GOT_IP

    def ifconfig(self, *args):
        if args:
            return None
        if self.isconnected():
            return (wlan_env.board_ip(), wlan_env.NETMASK, wlan_env.gateway(), wlan_env.gateway())
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kw):
        if args == ("mac",):
            return b"\x24\x0a\xc4\x00\x00\x01"
        if args == ("ssid",):
            return wlan_env.SSID
        return None


def hostname(name=None):
    return "esp32" if name is None else None
