# Exportdesk: `make run` for the demo, `make test` for the suite. Both start from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_ROWS ?= 20000
# Debian packages the tests drive as real components (installed only when missing, as root).
SYSTEM_PACKAGES := chromium libreoffice-calc-nogui redis-server sqlite3
SYSTEM_COMMANDS := chromium soffice redis-server Rscript sqlite3

.PHONY: run test install system-deps lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

system-deps:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages for:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or install by hand): $(SYSTEM_PACKAGES) r-base-core" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-base-core >/dev/null; \
	fi
	@if [ -z "$$DATABASE_URL" ] && ! command -v pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  echo "Installing PostgreSQL server binaries (the tests start a throwaway server)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --rows $(DEMO_ROWS)
	$(PY) manage.py ensure_admin
	$(PY) manage.py serve 127.0.0.1:8000

test: install system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var
