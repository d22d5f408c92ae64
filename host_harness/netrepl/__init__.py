"""What a board reached over the network offers besides its REPL, on the host side.

The REPLs themselves are pyserial URL schemes in transport/urls/ (protocol_wipy.py: wipy://, WiPy telnet;
protocol_webrepl.py: webrepl://), registered there like every scheme of ours.  Here:

  ftp.py            a WiPy's FTP server with ftplib: files, the TLS CA, the deploy writer
  webrepl_files.py  WebREPL's binary file protocol (extmod/modwebrepl.c)
  firmware.py       a WiPy firmware update: FTP upload, reset, version check (rolled back or not)
  bridge.py         a network REPL on a local pty, for the real mpremote (`usocket-hil bridge`)

The board layer chooses them (board/network.py: FTP deploy and CA for wipy://), never the layers above.
"""
