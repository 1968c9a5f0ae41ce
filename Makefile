# Exportdesk: `make run` for the demo, `make test` for the suite. Both start from a fresh clone.
# `make test` runs three lanes in turn: test-pg (the whole suite, Django 5.2 on Python 3.11,
# PostgreSQL), test-sqlite (the tests marked sqlite_lane, on an SQLite file) and test-dj61
# (on Django 6.1 and Python 3.12, the tests of what Django 6.1 can change: DJ61_TESTS below).
# PYTEST_ARGS goes to every lane. Every lane runs on two pytest-xdist workers (XDIST; one
# PostgreSQL server, a test database or SQLite file per worker; tests/conftest.py groups
# the tests by module); `make test XDIST=` runs them in one process.
# Measured 2026-12-07, one process -> XDIST, on two shared cores: test-pg 28:38 -> 22:10 and 16:16,
# test-sqlite 2:31 -> 1:31, test-dj61 10:06 -> 8:39 (README, "Quick start").
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The Django 6.1 lane's Python 3.12: pyenv's, else Debian's python3.12.
PYTHON312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12.1/bin/python) \
	$(shell command -v python3.12 2>/dev/null))
VENV_DJ61 := .venv-dj61
PY_DJ61 := $(VENV_DJ61)/bin/python
DJANGO_DJ61 := django>=6.1,<6.2
DEMO_ROWS ?= 20000
XDIST ?= -n 2 --dist loadgroup --no-loadscope-reorder
# Debian packages the tests drive as real components (installed only when missing, as root).
SYSTEM_PACKAGES := chromium gettext libreoffice-calc-nogui redis-server sqlite3
SYSTEM_COMMANDS := chromium soffice redis-server Rscript sqlite3 xgettext

.PHONY: run test test-pg test-sqlite test-dj61 install install-dj61 system-deps lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

$(VENV_DJ61)/.installed: pyproject.toml
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "The Django 6.1 lane needs Python 3.12: neither /root/.pyenv/versions/3.12.1/bin/python" \
	    "nor python3.12 on PATH was found. Install one (apt-get install python3.12, or pyenv)," \
	    "or name it: make test PYTHON312=/path/to/python3.12" >&2; \
	  exit 1; \
	fi
	$(PYTHON312) -m venv $(VENV_DJ61)
	$(PY_DJ61) -m pip install --quiet --upgrade pip
	$(PY_DJ61) -m pip install --quiet -e ".[test]" "$(DJANGO_DJ61)"
	touch $@

install-dj61: $(VENV_DJ61)/.installed

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

test: test-pg test-sqlite test-dj61

test-pg: install system-deps
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# Exit status 5 means PYTEST_ARGS selected no test of this lane: nothing to run, not a failure.
test-sqlite: install
	TEST_DATABASE=sqlite $(PY) -m pytest $(XDIST) -m 'sqlite_lane and not postgres_only' $(PYTEST_ARGS) || [ $$? -eq 5 ]

# What Django 6.1 can change: the admin's pages, forms, templates and changelists (exact rows
# in a host's admin), requests, sessions, messages, mail, time zones, languages, the API, a
# host project built from the wheel, the browser flows; never the tests marked one_lane.
DJ61_TESTS := tests/browser tests/api tests/security/test_staff_rule.py \
	tests/security/test_csrf_and_access.py tests/security/test_admin_hidden_fields.py \
	tests/security/test_dataset_permissions.py tests/test_exact_rows.py tests/test_replay.py \
	tests/test_admin_export.py tests/test_admin_frame.py tests/test_audit_admin.py \
	tests/test_display_mode.py tests/test_hosts.py tests/test_host_isolation.py \
	tests/test_reusable_app.py tests/test_datasets_page.py tests/test_schedule_form.py \
	tests/test_column_order.py tests/test_languages.py tests/test_naive_time.py \
	tests/test_time_zones.py tests/test_email.py tests/test_schedule_email.py tests/test_flow.py \
	tests/test_saved_exports.py tests/test_settings.py tests/test_downloads.py \
	tests/queues/test_on_tasks.py tests/queues/test_queue_checks.py
test-dj61: install-dj61 system-deps
	$(PY_DJ61) -m pytest $(XDIST) -m 'not one_lane' $(DJ61_TESTS) $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(VENV_DJ61) var
