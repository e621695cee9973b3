# Two entry points: `make lab` (the main job) and `make test` (every test). Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lab test setup-dev chromium lint js-test bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The main job: JupyterLab on the example notebooks; with no API key the chats use the embedded model.
# scripts/install.sh compiles llama-cpp-python the first time (3-10 minutes; it installs a C/C++ compiler
# and cmake with apt-get when missing) and shows its progress.
lab: $(BIN)/python
	VENV=$(VENV) scripts/install.sh all,local,lab
	$(BIN)/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root)

setup-dev: $(BIN)/python
	VENV=$(VENV) scripts/install.sh dev
	cd js && { test -d node_modules || npm ci --no-audit --no-fund; }

chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: setup-dev
	$(BIN)/ruff check ai_sessions tests bench
	$(BIN)/lint-imports

js-test: setup-dev
	cd js && npm test

# Every test: Python unit + integration, JS unit, browser tests in Chromium, notebooks under nbval.
test: setup-dev chromium
	$(BIN)/ruff check ai_sessions tests bench
	$(BIN)/lint-imports
	cd js && npm test
	$(BIN)/python -m pytest -q tests --ignore=tests/browser
	AI_SESSIONS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser
	$(BIN)/python -m pytest -q -p no:randomly --nbval notebooks/ --nbval-current-env -c tests/nbval/pytest.ini --rootdir .

bench: setup-dev
	$(BIN)/python -m bench

bench-smoke: setup-dev
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) js/node_modules ai_sessions/static .pytest_cache
