# Port models' shared "access point" (models/_common, on the path right after the model itself).
# The virtual board's environment names the network (VBOARD_WLAN_SSID / VBOARD_WLAN_KEY, defaults below)
# and the addresses a station gets (VBOARD_IP, the board's namespace address, and VBOARD_HOST_IP, the host
# side of the veth pair; loopback without them).
import os

SSID = os.getenv("VBOARD_WLAN_SSID") or "usocket-hil"
KEY = os.getenv("VBOARD_WLAN_KEY") or "usocket-hil-key"
NETMASK = "255.255.255.252"  # the /30 of host_harness.netns
ASSOC_MS = 30  # how long "association" takes: connect() is asynchronous on every firmware


def board_ip():
    return os.getenv("VBOARD_IP") or "127.0.0.1"


def gateway():
    return os.getenv("VBOARD_HOST_IP") or "127.0.0.1"


def verdict(ssid, key):
    if ssid != SSID:
        return "no_ap"
    if key != KEY:
        return "key"
    return "ok"
