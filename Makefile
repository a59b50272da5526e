# ari-app: call-center controller for Asterisk.  `make run` / `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# `make run`: the demo site (config/demo.toml, scripts/demo-site); `make run CONFIG=FILE`: that config instead
CONFIG ?=
DEMO_DIR ?= var/demo

PBX_LOCK ?= /tmp/pbx-e2e.lock

.PHONY: demo demo-down host-demo host-run host-test lock bench mutation spec-coverage venv provision pbx-up pbx-down pbx-status run test unit e2e check-config compose-check clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# The Debian packages of scripts/packages.txt that `make run` / `make test` need, installed when missing.
host-run:
	scripts/host-packages run

host-test:
	scripts/host-packages test

host-demo:
	scripts/host-packages demo

provision:
	scripts/pbx provision

pbx-up: provision
	scripts/pbx up

pbx-down:
	scripts/pbx down

pbx-status:
	scripts/pbx status

check-config: venv
	$(VENV)/bin/ari-app check-config $(or $(CONFIG),config/example.toml)

# Install what is missing, provision and start the PBX (with the demo's test contexts: PBX_E2E=1), make the
# venv; then the demo site (its broker, tokens, config in var/demo/) and the service in the foreground.
run: host-run venv provision
	PBX_E2E=1 scripts/pbx up
ifeq ($(CONFIG),)
	DEMO_DIR=$(abspath $(DEMO_DIR)) scripts/demo-site up
	cd $(DEMO_DIR) && set -o pipefail && $(abspath $(VENV))/bin/ari-app run --config config.toml | tee -a service.log
else
	$(VENV)/bin/ari-app run --config $(CONFIG)
endif

# Calls you can watch without a SIP phone, against the running demo site (`make run` in another terminal):
# SIPp phones and callers, what the service logs as it happens, then the day's report (scripts/demo.py).
demo: host-demo venv
	DEMO_DIR=$(abspath $(DEMO_DIR)) $(PY) scripts/demo.py

# Stop the demo's broker (the PBX: make pbx-down).
demo-down:
	DEMO_DIR=$(abspath $(DEMO_DIR)) scripts/demo-site down

# Unit tests, then e2e tests against the real Asterisk (started by the tests' fixtures).
test: host-test venv provision
	$(PY) -m pytest --junitxml=junit.xml $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

e2e: venv provision
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# The benchmark (bench/, issue 7): the service vs app_queue vs a bare ARI loop on the local PBX.
# Holds the shared PBX lock; starts the PBX with PBX_BENCH=1 itself; writes bench/results/bench.{json,md}.
bench: venv
	flock -o $(PBX_LOCK) $(PY) -m bench $(BENCH_ARGS)

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf $(VENV) junit.xml .pytest_cache

spec-coverage:
	scripts/spec-coverage

# Mutation testing of ari_app/core (issue 7; docs/mutation.md). Slow, not part of CI. Niced, one child by
# default (the machine is shared): `make mutation MUTMUT_CHILDREN=2`. Results: `$(VENV)/bin/mutmut results`.
MUTMUT_CHILDREN ?= 1
mutation: venv
	$(VENV)/bin/pip install -q -e '.[test,mutation]'
	nice -n 19 $(VENV)/bin/mutmut run --max-children $(MUTMUT_CHILDREN)

# The service image's Python dependencies, exact versions with hashes (docker/service/requirements.lock),
# from pyproject.toml; pip-tools in a throwaway venv.
lock:
	python3 -m venv /tmp/ari-app-piptools && /tmp/ari-app-piptools/bin/pip install -q pip-tools
	/tmp/ari-app-piptools/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links -o docker/service/requirements.lock pyproject.toml
