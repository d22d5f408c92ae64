"""`flash --port wipy://...` refuses an ESP32 image before it opens the port, as the ESP path refuses a
foreign image; nothing reaches the board."""

from __future__ import annotations

from pathlib import Path

import pytest
from netrepl_helpers import telnet_url, wipy_board

from host_harness import cli
from host_harness.flash import testimage


def test_an_esp32_image_is_refused_before_the_wipy_is_touched(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    fw = tmp_path / "fw.bin"
    fw.write_bytes(testimage.build(version="v1.25.0"))
    with wipy_board() as vb:
        code = cli.main(["flash", "--board", "virtual-wipy", "--port", telnet_url(vb), str(fw)])
        out, err = capsys.readouterr()
        assert code == 2, out + err
        assert "is an ESP image" in err and "nothing was uploaded" in err, err
        assert "ROLLED BACK" not in out and "warning" not in out, out
