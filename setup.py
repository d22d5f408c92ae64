"""Packaging glue that pyproject.toml cannot express: the device-side files ride in the wheel.

usocket_port/, ports/, boards/ and tests/device/ are not importable host code, but `usocket-hil deploy` and
`usocket-hil test` need them from an installed wheel too.  They are mapped under host_harness/_device/
(host_harness/resources.py looks there when no checkout is around).
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
DEVICE_TREES = {"usocket_port": "usocket_port", "ports": "ports", "boards": "boards",
                "tests.device": "tests/device"}


def device_packages() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for dotted, folder in DEVICE_TREES.items():
        for sub in [ROOT / folder, *sorted(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if sub.name == "__pycache__":
                continue
            rel = sub.relative_to(ROOT / folder).as_posix()
            name = f"host_harness._device.{dotted}" + ("" if rel == "." else "." + rel.replace("/", "."))
            mapping[name] = sub.relative_to(ROOT).as_posix()
    return mapping


DEVICE = device_packages()
setup(
    # Namespace packages too: folders of device-side or model code inside host_harness have no __init__.py.
    packages=find_namespace_packages(include=["host_harness", "host_harness.*"], exclude=["*.__pycache__"])
    + list(DEVICE),
    package_dir=DEVICE,
    package_data={name: ["*.py", "*.toml", "*.md"] for name in DEVICE} | {"host_harness": ["**/*.py"]},
)
