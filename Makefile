# Frontdesk: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed here, into .venv (Python) and dev/node_modules (Azurite).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .stamps
PYTEST_ARGS ?=

.PHONY: setup demo dev test bench clean

setup: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/chromium

$(STAMPS)/python: requirements.txt requirements-dev.txt tests/worker/requirements.txt
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python -r tests/worker/requirements.txt
	@touch $@

$(STAMPS)/node: dev/package.json dev/package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --prefix dev --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests drive Debian's Chromium (never a downloaded browser build).
$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@touch $@

## The main job on the local stack (Azurite, development host, emulators); stops when done.
demo: setup
	$(BIN)/python -m dev.demo

## Keep the local stack running until Ctrl+C.
dev: setup
	$(BIN)/python -m dev.stack

## Every test, in parallel.
test: setup
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

## Benchmarks (figures go in docs/PERFORMANCE.md).
bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(STAMPS) dev/node_modules
