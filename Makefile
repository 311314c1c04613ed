# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test typecheck test-sqlite test-postgresql test-timing test-reliability test-reliability-postgresql postgres bench profile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package's declared dependencies change. python-ldap builds against
# Debian's libldap-dev and libsasl2-dev; the tests start slapd (scripts/system-packages).
$(STAMP): pyproject.toml | $(BIN)/python
	scripts/system-packages
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,client,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mobproc serve --demo

# The whole suite on SQLite and again on PostgreSQL (started first if it is installed), the two
# side by side, each printing its output when it ends; then the timing checks, alone.
test: $(STAMP) postgres typecheck
	@echo "make test: the SQLite and PostgreSQL runs side by side; each prints when it ends"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql
	@$(MAKE) --no-print-directory test-timing

# The SDK is typed for its users (it ships py.typed): mypy --strict on its modules and the API's
# models its client returns, once a run.
typecheck: $(STAMP)
	$(BIN)/python -m mypy --strict src/mobproc/sdk src/mobproc/models.py

# Each run on two pytest-xdist processes, a module's tests together (--dist loadfile): many
# tests wait on a clock (an expiry, a lockout, a read timeout), which the other process fills.
XDIST := -n 2 --dist loadfile

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not postgresql_only and not timing" $(PYTEST_ARGS)

# The modules marked database_agnostic (HTTP framing, logs, documents, the client side) check
# nothing the database changes: they run once, in the SQLite run.
test-postgresql: $(STAMP) postgres
	MOBPROC_TEST_BACKEND=postgresql $(BIN)/python -m pytest $(XDIST) -m "not sqlite_only and not database_agnostic and not timing" $(PYTEST_ARGS)

# The tests that compare times (marked timing: an unknown name against a wrong password, a
# 503's wait), on each database in turn, with nothing else running.
test-timing: $(STAMP) postgres
	$(BIN)/python -m pytest -m "timing and not postgresql_only" $(PYTEST_ARGS)
	MOBPROC_TEST_BACKEND=postgresql $(BIN)/python -m pytest -m "timing and not sqlite_only and not database_agnostic" $(PYTEST_ARGS)

# Load, crash, races and bad input (tests/reliability/, a few minutes): on SQLite, as CI runs
# it; the PostgreSQL variant is there to run by hand (the crash test is SQLite's own).
test-reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability -m "not postgresql_only" $(PYTEST_ARGS)

test-reliability-postgresql: $(STAMP) postgres
	MOBPROC_TEST_BACKEND=postgresql $(BIN)/python -m pytest tests/reliability -m "not sqlite_only" $(PYTEST_ARGS)

postgres:
	@scripts/postgres-up

# mobproc against its peers and ceilings (README, Performance: what runs where). QUICK=1: under 5 minutes.
bench: $(STAMP)
	bench/setup.sh
	QUICK=$(QUICK) bench/.venv-peers/bin/python bench/run.py $(BENCH_ARGS)

# Where mobproc's time goes under the same load, by py-spy (bench/results/profile.md; 2 min).
profile: $(STAMP)
	bench/setup.sh
	bench/.venv-peers/bin/python bench/load_profile.py $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
