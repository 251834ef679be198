# floodgate — the two commands of the README are `make demo` and `make test`; everything they need
# (Debian packages, the Python venv, the C receiver, the lab image) is installed on demand from here.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
STAMPS := .stamps
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Parts of the project add their own checks to these (see mk/*.mk).
TEST_PREREQS :=
BENCH_TARGETS :=

.PHONY: help deps apt venv lint pytest test demo bench clean

help:
	@echo "make demo   - run a real mitigation against the lab (the main job)"
	@echo "make test   - lint + the whole test suite (what CI runs)"
	@echo "make bench  - benchmarks, each printed beside a peer measured in the same run"

$(STAMPS):
	@mkdir -p $@

# Debian packages: installed only when one is missing, so repeated runs cost nothing.
$(STAMPS)/apt: mk/apt-packages.txt | $(STAMPS)
	@missing=$$(grep -v '^#' mk/apt-packages.txt | while read -r p; do \
	  [ -z "$$p" ] || dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

$(STAMPS)/venv: requirements.txt constraints.txt | $(STAMPS)
	@python3 -c 'import sys; assert sys.version_info >= (3, 11), "floodgate needs Python >= 3.11 on the controller"'
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	@touch $@

apt: $(STAMPS)/apt
venv: $(STAMPS)/venv
deps: apt venv

include $(sort $(wildcard mk/*.mk))

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production -q

pytest: deps $(TEST_PREREQS)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

bench: deps $(BENCH_TARGETS)

clean:
	rm -rf $(STAMPS) .pytest_cache .ruff_cache
