"""Flashing through esptool's API against the real esp32-mock-bootloader 0.3.0 on 127.0.0.1.

Each mock is its own subprocess (own TMPDIR, free port) for this module and is killed at teardown.
Flash contents are checked independently of host_harness.flash: with esptool's own API (MD5 on the
chip; the mock's stub read-back is broken, so nothing here reads flash back).
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("esp32_mock_bootloader", reason="esp32-mock-bootloader (dev dependency) not installed")

from esptool.bin_image import ESP32FirmwareImage, ESP32S3FirmwareImage, ImageSegment  # noqa: E402

from host_harness.boards import load_board  # noqa: E402
from host_harness.flash import (  # noqa: E402
    FlashOptions,
    ImageError,
    NotFlashableError,
    load_image,
)
from host_harness.flash.mockboot import MockBootloader  # noqa: E402
from host_harness.flash.runner import flash_boards  # noqa: E402

BOARD = load_board("esp32-devkitc")  # chip esp32, 4MB, offset 0x1000
OFFSET = BOARD.flash.firmware_offset
CLI = [sys.executable, "-m", "host_harness.cli"]


def build_image(path: Path, size: int, seed: int, *, cls=ESP32FirmwareImage, noise: float = 0.5) -> Path:
    """A valid-looking ESP app image (magic 0xE9, header, segments, checksum, SHA) of about `size` bytes.

    Part random, part repetitive (`noise` = random share), so compression does something, as with real
    firmware.
    """
    rng = random.Random(seed)
    random_len = int(size * noise) // 4 * 4
    pattern_len = max(64, size - random_len)
    noise_bytes = rng.randbytes(random_len)
    pattern = bytes(rng.randrange(256) for _ in range(64)) * (pattern_len // 64)
    image = cls()
    image.entrypoint = 0x40080400
    iram = ImageSegment(0x40080000, noise_bytes)
    dram = ImageSegment(0x3FFB0000, pattern)
    iram.name, dram.name = ".iram0.text", ".dram0.data"
    image.segments = [iram, dram]
    path.write_bytes(image.save(None))
    return path


def chip_md5(url: str, chip: str, addr: int, size: int) -> str:
    """MD5 of a flash region computed on the (mock) chip, through esptool's API directly."""
    from esptool.cmds import attach_flash, detect_chip, run_stub

    esp = detect_chip(url, connect_mode="no-reset", connect_attempts=2)
    try:
        assert esp.CHIP_NAME.lower().replace("-", "") == chip
        esp = run_stub(esp)
        attach_flash(esp)
        return esp.flash_md5sum(addr, size)
    finally:
        esp._port.close()


def written_form(data: bytes, chip: str = "esp32", size: str = "4MB") -> bytes:
    """What esptool writes at the bootloader offset: the image with the flash size patched into its header."""
    from esptool.cmds import _update_image_flash_params
    from esptool.targets import CHIP_DEFS

    class _Esp:  # only the class constants _update_image_flash_params reads
        BOOTLOADER_FLASH_OFFSET = CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET
        ESP_IMAGE_MAGIC = CHIP_DEFS[chip].ESP_IMAGE_MAGIC
        CHIP_NAME = CHIP_DEFS[chip].CHIP_NAME
        BOOTLOADER_IMAGE = CHIP_DEFS[chip].BOOTLOADER_IMAGE
        parse_flash_size_arg = CHIP_DEFS[chip].parse_flash_size_arg
        parse_flash_freq_arg = CHIP_DEFS[chip].parse_flash_freq_arg

    padded = data + b"\xff" * (-len(data) % 4)
    return _update_image_flash_params(_Esp(), _Esp.BOOTLOADER_FLASH_OFFSET, "keep", "keep", size, padded)


def holds(url: str, data: bytes, chip: str = "esp32") -> bool:
    written = written_form(data, chip)
    return chip_md5(url, chip, OFFSET, len(written)) == hashlib.md5(written).hexdigest()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fw")
    return {
        "a": build_image(d / "a.bin", 128 * 1024, 1),
        "b": build_image(d / "b.bin", 128 * 1024, 2),
        "c": build_image(d / "c.bin", 96 * 1024, 3),
        "random": build_image(d / "random.bin", 192 * 1024, 5, noise=1.0),
    }


@pytest.fixture(scope="module")
def mock():
    with MockBootloader("esp32") as m:
        yield m


@pytest.fixture(scope="module")
def mock2():
    with MockBootloader("esp32") as m:
        yield m


@pytest.fixture(scope="module")
def mock_s3():
    with MockBootloader("esp32s3") as m:
        yield m


@pytest.fixture
def logs(tmp_path) -> Path:
    return tmp_path / "logs"


def test_write_then_verify(mock, images, logs):
    image = load_image(images["a"], BOARD)
    [r] = flash_boards(BOARD, [mock.url], image, log_dir=logs)
    assert (r.outcome, r.error, r.chip) == ("written", None, "ESP32")
    assert r.bytes_written == image.size and r.attempts == ["compressed"]
    assert holds(mock.url, image.data)
    # The identity step is skipped on socket:// with its reason, and the no-reset note is in the log.
    assert r.identity["status"] == "skipped" and "socket://" in r.identity["reason"]
    text = Path(r.log_path).read_text()
    assert "must already be in download mode" in text and "Hash of data verified" in text
    [v] = flash_boards(BOARD, [mock.url], image, options=FlashOptions(verify_only=True), log_dir=logs)
    assert (v.outcome, v.error) == ("verified", None)


def test_identical_reflash_is_skipped_and_force_rewrites(mock, images, logs):
    image = load_image(images["a"], BOARD)
    flash_boards(BOARD, [mock.url], image, log_dir=logs)
    [again] = flash_boards(BOARD, [mock.url], image, log_dir=logs)
    assert (again.outcome, again.bytes_written, again.error) == ("skipped", 0, None)
    assert "write skipped" in Path(again.log_path).read_text()
    [forced] = flash_boards(BOARD, [mock.url], image, options=FlashOptions(force=True), log_dir=logs)
    assert (forced.outcome, forced.bytes_written) == ("written", image.size)
    assert holds(mock.url, image.data)


def test_verify_against_different_image_fails(mock, images, logs):
    a, b = load_image(images["a"], BOARD), load_image(images["b"], BOARD)
    flash_boards(BOARD, [mock.url], a, log_dir=logs)
    [r] = flash_boards(BOARD, [mock.url], b, options=FlashOptions(verify_only=True), log_dir=logs)
    assert r.outcome == "failed" and "does not hold b.bin (MD5 differs)" in r.error
    assert holds(mock.url, a.data) and not holds(mock.url, b.data)


def test_wrong_chip_is_refused_and_nothing_written(mock_s3, images, logs):
    image = load_image(images["a"], BOARD)
    region = len(written_form(image.data))
    before = chip_md5(mock_s3.url, "esp32s3", OFFSET, region)
    [r] = flash_boards(BOARD, [mock_s3.url], image, log_dir=logs)
    assert r.outcome == "failed"
    assert "the chip is ESP32-S3, but the board file says ESP32" in r.error
    assert chip_md5(mock_s3.url, "esp32s3", OFFSET, region) == before


def test_two_boards_concurrently_with_separate_logs(mock, mock2, images, logs):
    image = load_image(images["c"], BOARD)
    seen: dict[str, list[tuple[str, int, int]]] = {mock.url: [], mock2.url: []}

    def hook(url: str, done: int, total: int) -> None:
        seen[url].append((threading.current_thread().name, done, total))

    results = flash_boards(BOARD, [mock.url, mock2.url], image, options=FlashOptions(force=True),
                           log_dir=logs, progress_hook=hook)
    assert [r.outcome for r in results] == ["written", "written"]
    # Separate progress per board: each saw its own bar run to completion, from its own worker thread.
    for url in (mock.url, mock2.url):
        assert seen[url] and seen[url][-1][1] == seen[url][-1][2] > 0
        assert [d for _, d, _ in seen[url]] == sorted(d for _, d, _ in seen[url])
    assert {t for t, _, _ in seen[mock.url]}.isdisjoint({t for t, _, _ in seen[mock2.url]})
    assert [r.port for r in results] == [mock.url, mock2.url]
    log_a, log_b = (Path(r.log_path).read_text() for r in results)
    assert results[0].log_path != results[1].log_path
    # Each log holds its own board's esptool output and nothing of the other board's.
    assert f"{mock.port}" in log_a and f"{mock2.port}" not in log_a
    assert f"{mock2.port}" in log_b and f"{mock.port}" not in log_b
    for text in (log_a, log_b):
        assert text.count("Hash of data verified") == 1
    assert holds(mock.url, image.data) and holds(mock2.url, image.data)


class StallingProxy:
    """A loopback TCP relay in front of the mock that goes silent mid-write on its first session only.

    Real sockets both ways: it makes esptool's first write attempt time out, as a flaky USB-UART would.
    """

    def __init__(self, upstream_port: int, stall_after: int) -> None:
        self.upstream_port = upstream_port
        self.stall_after = stall_after
        self.sessions = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.socks: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            upstream.settimeout(None)
            self.socks += [client, upstream]
            stall = self.stall_after if self.sessions == 0 else None
            self.sessions += 1
            for src, dst, limit in ((client, upstream, stall), (upstream, client, None)):
                t = threading.Thread(target=self._pump, args=(src, dst, limit), daemon=True)
                t.start()
                self.threads.append(t)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    continue  # swallow: the mock never sees the rest of this session
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()
        for s in self.socks:
            s.close()
        for t in self.threads:
            t.join(5)
        self.thread.join(5)


def test_retry_ladder_recovers_from_a_stalled_write(mock, images, logs):
    image = load_image(images["random"], BOARD)  # incompressible: ~192 KB on the wire when written
    # Past the stub upload (well under 64 KB on the wire), well before the end of the write.
    proxy = StallingProxy(mock.port, stall_after=96 * 1024)
    try:
        [r] = flash_boards(BOARD, [proxy.url], image, options=FlashOptions(force=True), log_dir=logs)
    finally:
        proxy.close()
    assert (r.outcome, r.error) == ("written", None)
    assert r.attempts == ["compressed", "uncompressed"]
    assert proxy.sessions == 2
    assert "retrying uncompressed" in Path(r.log_path).read_text()
    assert holds(mock.url, image.data)


# ---- bad input through the CLI: one-line error, non-zero exit, nothing written --------------------


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def assert_one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    errors = [line for line in p.stderr.splitlines() if line.startswith("usocket-hil: error: ")]
    assert len(errors) == 1, p.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="module")
def baseline(mock, images, tmp_path_factory):
    """The mock holds image 'a'; every bad-input case must leave it so."""
    image = load_image(images["a"], BOARD)
    flash_boards(BOARD, [mock.url], image, log_dir=tmp_path_factory.mktemp("logs"))
    assert holds(mock.url, image.data)
    return image


def _bad_files(d: Path, images: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    a = images["a"].read_bytes()
    not_esp = d / "not-esp.bin"
    not_esp.write_bytes(b"\x00" + a[1:])
    uf2 = d / "fw.uf2"
    uf2.write_bytes(b"UF2\n" + bytes(508))
    too_big = d / "too-big.bin"
    too_big.write_bytes(a + b"\xff" * (4 * 1024 * 1024))
    s3_image = build_image(d / "s3.bin", 16 * 1024, 4, cls=ESP32S3FirmwareImage)
    truncated = d / "truncated.bin"
    truncated.write_bytes(a[:20])
    return {
        "not-esp": (not_esp, "not an ESP firmware image (first byte 0x00, expected 0xe9)"),
        "uf2": (uf2, "is a UF2 file"),
        "too-big": (too_big, "beyond the board's 4MB flash"),
        "s3-image": (s3_image, "was built for ESP32-S3"),
        "truncated": (truncated, "is not a valid esp32 image"),
        "missing": (d / "nope.bin", "does not exist"),
    }


@pytest.mark.parametrize("case", ["not-esp", "uf2", "too-big", "s3-image", "truncated", "missing"])
def test_bad_image_refused_before_connecting(case, mock, baseline, images, tmp_path):
    path, message = _bad_files(tmp_path, images)[case]
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", mock.url, str(path), cwd=tmp_path)
    assert_one_line_error(p, message)
    assert not (tmp_path / "reports").exists()  # refused before any board was touched (no log opened)
    assert holds(mock.url, baseline.data)


def test_board_problems_refused(mock, baseline, images, tmp_path):
    fw = str(images["b"])
    assert_one_line_error(run_cli("flash", "--board", "esp32-nonexistent", "--port", mock.url, fw),
                          "unknown board 'esp32-nonexistent'")
    assert_one_line_error(run_cli("flash", "--board", "wipy1", "--port", mock.url, fw),
                          "board 'wipy1'", "no [flash] table", "FTP")
    broken = tmp_path / "broken.toml"
    text = BOARD.source.read_text().replace("name = \"esp32-devkitc\"", "name = \"broken\"")
    broken.write_text("\n".join(line for line in text.splitlines() if not line.startswith("firmware_offset")))
    assert_one_line_error(run_cli("flash", "--board", str(broken), "--port", mock.url, fw),
                          "broken.toml [flash]: missing field 'firmware_offset'")
    assert holds(mock.url, baseline.data)


def test_not_flashable_board_api():
    with pytest.raises(NotFlashableError, match="FTP"):
        load_image(Path("whatever.bin"), load_board("wipy1"))
    with pytest.raises(ImageError, match="does not exist"):
        load_image(Path("/nonexistent/fw.bin"), BOARD)


def test_wrong_chip_cli_and_socket_note(mock_s3, images, tmp_path):
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", mock_s3.url, str(images["c"]), cwd=tmp_path)
    assert_one_line_error(p, "the chip is ESP32-S3", "nothing was written")
    assert "socket:// has no reset lines: the board must already be in download mode" in p.stderr


def test_board_not_in_download_mode(baseline, images, tmp_path):
    """A port where nothing speaks the ROM protocol: one line after the connect attempts, no hang."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.settimeout(0.2)
        url = f"socket://127.0.0.1:{silent.getsockname()[1]}"
        p = run_cli("flash", "--board", "esp32-devkitc", "--port", url, "--connect-attempts", "2",
                    str(images["a"]), cwd=tmp_path)
    assert_one_line_error(p, "no ROM bootloader answered after 2 connect attempts",
                          "must already be in download mode")


def test_port_busy_and_missing(baseline, images, tmp_path):
    import serial

    master, slave = os.openpty()
    holder = serial.Serial(os.ttyname(slave), exclusive=True)  # what mpremote holds while connected
    try:
        p = run_cli("flash", "--board", "esp32-devkitc", "--port", os.ttyname(slave), str(images["a"]),
                    cwd=tmp_path)
        assert_one_line_error(p, "is busy: another program holds it")
    finally:
        holder.close()
        os.close(master)
        os.close(slave)
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", "/dev/ttyUSB-nonexistent-h5", str(images["a"]),
                cwd=tmp_path)
    assert_one_line_error(p, "port /dev/ttyUSB-nonexistent-h5 does not exist")
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", "/dev/null", "--port", "/dev/null",
                str(images["a"]), cwd=tmp_path)
    assert_one_line_error(p, "port given twice: /dev/null")


def test_cli_flash_two_mocks_end_to_end(mock, mock2, images, tmp_path):
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", mock.url, "--port", mock2.url,
                "--force", "--log-dir", str(tmp_path / "logs"), str(images["b"]), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"esp32-devkitc {mock.url}: written ")
    assert lines[1].startswith(f"esp32-devkitc {mock2.url}: written ")
    assert len(list((tmp_path / "logs").glob("esp32-devkitc-socket-127-0-0-1-*.log"))) == 2
    p = run_cli("flash", "--board", "esp32-devkitc", "--port", mock.url, "--json", str(images["b"]),
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    import json

    [result] = json.loads(p.stdout)
    assert result["outcome"] == "skipped" and result["identity"]["status"] == "skipped"
