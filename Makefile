# Kameng: `make dev` runs the product, `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: dev test test-sqlite test-postgres soak install install-test system-deps record-histories bench bench-quick bench-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test pyproject.toml
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Debian packages the tests need: Chromium for the console tests, docker-compose to
## validate the compose file, Caddy for the tests behind a real proxy, CJK fonts for
## readable screenshots.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v caddy >/dev/null 2>&1 || missing="$$missing caddy"; \
	[ -d /usr/share/fonts/opentype/noto ] || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

dev: $(VENV)/.installed
	$(VENV)/bin/kameng dev

test: install-test system-deps
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

# Each pass runs on TEST_WORKERS pytest-xdist workers, each a whole run of its own (its own
# database, demo platform and servers; tests/conftest.py says how tests are shared out).
# The time-skipping test server keeps one global clock per run; when a run's clock sticks,
# the tests that failed run once more, in one process on a fresh server, and only their
# second result counts.
TEST_WORKERS ?= 2

test-sqlite: install-test
	$(PY) -m pytest -n $(TEST_WORKERS) || $(PY) -m pytest --last-failed --last-failed-no-failures none

test-postgres: install-test
	KAMENG_TEST_POSTGRES=$(PG_TEST_URL) $(PY) -m pytest -m db -n $(TEST_WORKERS) || \
	KAMENG_TEST_POSTGRES=$(PG_TEST_URL) $(PY) -m pytest -m db --last-failed --last-failed-no-failures none

## The reliability suite at length: more processes, more faults, a longer load run.
soak: install-test
	KAMENG_SOAK=1 $(PY) -m pytest tests/reliability -p no:randomly --timeout 3600
	KAMENG_SOAK=1 KAMENG_TEST_POSTGRES=$(PG_TEST_URL) $(PY) -m pytest tests/reliability -p no:randomly --timeout 3600

## Benchmarks (docs/performance.md): every figure a ratio against a peer measured beside it.
## The table goes to stdout and var/bench/latest.json; bench-quick (under 3 minutes) to quick.json.
bench-deps:
	@if ! command -v wrk >/dev/null 2>&1; then \
		echo "installing Debian packages: wrk"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; \
	fi

bench: $(VENV)/.installed-bench bench-deps
	$(PY) -m bench

bench-quick: $(VENV)/.installed-bench bench-deps
	$(PY) -m bench --quick

## Record workflow histories for the replay tests (commit the new files).
record-histories: install-test
	KAMENG_RECORD_HISTORIES=1 $(PY) -m pytest tests/workflows -q -p no:randomly --ignore=tests/workflows/test_replay.py

clean:
	rm -rf $(VENV) var .pytest_cache
