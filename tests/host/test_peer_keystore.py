"""The peers' RSA keys are made once and kept in the state folder (peers/keystore.py); certificates stay per run."""

from __future__ import annotations

import stat

import pytest

from host_harness.peers import certs, keystore


def _numbers(pems: list[str]) -> list[int]:
    return [certs.serialization.load_pem_private_key(p.encode(), None).public_key().public_numbers().n for p in pems]


def _no_generation(monkeypatch):
    def generated(*_a, **_k):
        raise AssertionError("a key was generated although the store holds enough")

    monkeypatch.setattr(certs.rsa, "generate_private_key", generated)  # (the module keystore.new_pem uses too)


def test_the_store_is_made_once_private_and_read_back(tmp_path, monkeypatch):
    path = tmp_path / "state" / keystore.STORE_NAME
    first = keystore.stored_keys(2, path)
    assert len(set(_numbers(first))) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    _no_generation(monkeypatch)
    assert keystore.stored_keys(2, path) == first
    assert keystore.stored_keys(1, path) == first[:1]
    assert [p.name for p in path.parent.iterdir()] == [keystore.STORE_NAME]  # no temporary file left


def test_a_short_store_is_completed_keeping_its_keys(tmp_path):
    path = tmp_path / keystore.STORE_NAME
    one = keystore.stored_keys(1, path)
    three = keystore.stored_keys(3, path)
    assert three[:1] == one and len(set(_numbers(three))) == 3
    assert keystore.stored_keys(3, path) == three


@pytest.mark.parametrize("content", [b"not a key\n", b"\xff\xfe"])
def test_a_damaged_store_is_replaced(tmp_path, content):
    path = tmp_path / keystore.STORE_NAME
    path.write_bytes(content)
    keys = keystore.stored_keys(1, path)
    assert keystore.stored_keys(1, path) == keys


def test_an_unwritable_state_folder_still_gives_keys(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    keys = keystore.stored_keys(1, blocked / keystore.STORE_NAME)  # its folder cannot be made
    assert len(_numbers(keys)) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_process_without_seeded_keys_takes_the_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("USOCKET_HIL_STATE", str(tmp_path))
    monkeypatch.setattr(certs, "_seeded", [])
    monkeypatch.setattr(certs, "_stored", [False])
    monkeypatch.setattr(keystore, "_handed_over", [])
    for cache in ("_cas", "_rogues", "_leaf_keys", "_materials"):  # a process that has made no key yet
        monkeypatch.setattr(certs, cache, {})
    stored = keystore.stored_keys(keystore.KEYS_PER_PROCESS)
    _no_generation(monkeypatch)
    material = certs.material_for("10.0.0.1")
    used = {k.public_key().public_numbers().n for k in (material.ca.key, material.server.key,
                                                        material.wrong_ca_server.key, material.client.key,
                                                        certs._rogue_ca("rsa").ca.key)}
    assert used == set(_numbers(stored))
