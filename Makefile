# journalsync — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# PostgreSQL for the store tests: set by CI here; tests skip cleanly when it is empty.
JOURNALSYNC_TEST_PG ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)
export JOURNALSYNC_TEST_PG

.PHONY: demo test test-fast lint typecheck pytest bench soak clean

$(STAMP): pyproject.toml requirements.lock
	@# poppler-utils: the tests render PDF pages to images (pdftoppm) and read their text.
	command -v pdftoppm >/dev/null || { apt-get update -qq && apt-get install -y -qq poppler-utils; }
	@# chromium: the console's browser tests drive Debian's build (Playwright downloads none).
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Independent public NetSchool clients from PyPI, each in its own venv (netschoolapi pins httpx
# 0.23; netschoolpy wants httpx 0.29 and websockets): tests/connectors/netschool/test_public_client_compat.py runs them.
COMPAT := .venv-compat/.installed .venv-compat-netschoolpy/.installed
.venv-compat/.installed:
	$(PYTHON) -m venv .venv-compat
	.venv-compat/bin/pip install --quiet netschoolapi==11.0.5
	touch $@
.venv-compat-netschoolpy/.installed:
	$(PYTHON) -m venv .venv-compat-netschoolpy
	.venv-compat-netschoolpy/bin/pip install --quiet netschoolpy==9.6.3
	touch $@

demo: $(STAMP)
	$(BIN)/journalsync demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check core connectors scheduler journalsync console tests bench
	$(BIN)/ruff format --check core connectors scheduler journalsync console tests bench

typecheck: $(STAMP)
	$(BIN)/mypy core connectors scheduler journalsync console

pytest: $(STAMP) $(COMPAT)
	$(BIN)/pytest -q -p no:cacheprovider

# The inner loop: everything but the tests marked slow (tests/e2e/ and the other end-to-end runs),
# on TEST_JOBS workers (pytest-xdist; a test file stays on one worker, so its module fixtures are
# built once; each worker has its own PostgreSQL database, see tests/conftest.py).
TEST_JOBS ?= auto
test-fast: lint typecheck $(COMPAT)
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow" -n $(TEST_JOBS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench

# Faults × operations on every emulator and SIGKILL of real processes (loopback, a few minutes).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-compat .venv-compat-netschoolpy .mypy_cache .ruff_cache .pytest_cache
