# The two set-up commands of the README live here. Both install what is missing first
# (system packages with sudo when not root, then a virtual environment in .venv with every
# extra: dev for the tests, demo for `hub demo`, bench for `hub bench`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3-venv python3-dev mosquitto dbus systemd espeak-ng tmux gettext

FHIR_VALIDATOR := tests/fhir_validator

.PHONY: test demo lint system-deps venv fhir-validator

test: system-deps venv lint fhir-validator
	$(BIN)/pytest -n 2

# The embedded default: virtual devices → hub → local Mosquitto → receiver, until Ctrl-C.
demo: system-deps venv
	$(BIN)/hub demo

lint: venv
	$(BIN)/ruff check hub tests
	$(BIN)/ruff format --check hub tests

# Installs only what is missing, so a prepared machine needs no network and no sudo.
system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y $$missing; \
	fi

venv: $(VENV)/.installed

# The independent FHIR validator the tests run (Node packages pinned by package-lock.json).
fhir-validator: $(FHIR_VALIDATOR)/node_modules/.package-lock.json

$(FHIR_VALIDATOR)/node_modules/.package-lock.json: $(FHIR_VALIDATOR)/package-lock.json
	cd $(FHIR_VALIDATOR) && npm ci --no-audit --no-fund

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,demo,bench]'  # the tests, hub demo, hub bench
	touch $@
