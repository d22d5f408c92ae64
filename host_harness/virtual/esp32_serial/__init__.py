"""A virtual ESP32-DevKitC behind a USB-UART, served as RFC2217: see device.py (process), bridge.py (RFC2217,
DTR/RTS), chip.py (auto-reset circuit, download mode, booted firmware) and bootchain.py (boot log)."""
