# Two commands for a newcomer: `make run` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BROWSER_STAMP := $(VENV)/.browser

.PHONY: setup browser run test lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The local CouchDB-compatible server (pouchdb-server) and the reference PouchDB device, pinned by the lock file.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests: Playwright drives it and never downloads a browser of its own. Installed
# when missing and we are root (CI, a fresh machine); otherwise the browser tests say how to install it.
$(BROWSER_STAMP): | $(PY_STAMP)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi
	@if [ -x /usr/bin/chromium ]; then touch $@; \
	else echo "note: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2; fi

browser: $(BROWSER_STAMP)

run: setup
	$(BIN)/simpul run

test: setup browser
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: setup
	$(BIN)/simpul bench sync

clean:
	rm -rf $(VENV) node_modules var
