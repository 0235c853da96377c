# Two commands for newcomers:  `make demo`  and  `make test`.  Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: demo test test-pg lint setup widget browser clean

setup: $(STAMP) $(NODE_STAMP) widget

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The browser widget (widget/src -> src/ktwidget/http/static/ktwidget.{js,mjs}, not committed).
# esbuild takes a fraction of a second, so it simply runs every time.
widget: $(NODE_STAMP)
	npm run --silent build

# Debian's Chromium for the browser tests (never a downloaded browser). Installed when we are root
# with apt-get; elsewhere the browser tests say they were skipped and why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: no chromium: the browser tests will be skipped (apt-get install chromium)"; fi; }

demo: setup
	$(BIN)/ktwidget demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# The whole suite on the embedded SQLite; `make test-pg` runs it again on PostgreSQL.
test: lint browser
	$(BIN)/pytest -q
	npm test --silent

test-pg: setup browser
	KTWIDGET_TEST_DATABASE_URL=$${KTWIDGET_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(BIN)/pytest -q

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
	rm -f src/ktwidget/http/static/ktwidget.js src/ktwidget/http/static/ktwidget.mjs
