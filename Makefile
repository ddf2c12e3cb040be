# huntvault developer entry points. Every target sets itself up (.venv, node_modules) on first use.
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DEMO_DIR ?= .demo
PORT    ?= 8080
DEMO_ARGS ?=
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: demo test bench lint setup clean node chromium java

setup: $(STAMP) $(NODE_STAMP) chromium java

# headless Chromium for the browser tests (Debian package; Playwright never downloads a browser)
chromium:
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

# a Java runtime for the Spark engine and its tests (Debian package, as for chromium)
java:
	@command -v java >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y openjdk-17-jre-headless; }

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y nodejs npm; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# make demo PORT=8081 DEMO_DIR=/tmp/hv-demo DEMO_ARGS="--devices 10 --days 1"
demo: $(STAMP)
	$(PY) -m huntvault.demo --dir $(DEMO_DIR) --port $(PORT) $(DEMO_ARGS)

test: setup
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" $(PY) bench/run_all.py

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV) node_modules $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
