# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project metadata changes, not on every run.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check tabnine_usage_async tests benchmarks
	$(BIN)/ruff format --check tabnine_usage_async tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict tabnine_usage_async

pytest: $(STAMP)
	$(BIN)/pytest

# Benchmarks against aiohttp and httpx loops (several minutes; `make bench BENCH_ARGS=--quick`).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# A fresh backfill of a fake organization each time (earlier output is removed first), then a
# sample of the records it wrote.
demo: $(STAMP)
	rm -rf demo-output
	$(BIN)/tabnine-usage backfill --fake --fake-users 300 --start 2026-01-01 --end 2026-07-01 \
		--granularity daily --window month --output demo-output/usage.parquet
	$(BIN)/python -c 'from tabnine_usage_async.sinks import read_records; \
	rows = read_records("demo-output/usage.parquet"); \
	print(len(rows), "records in demo-output/usage.parquet; an active day of each scope:"); \
	active = [next(r for r in rows if r["scope"] == s and r["code_completions"]) \
	          for s in ("organization", "team", "user")]; \
	[print(" ", r["scope"], r["period_start"], "active users", r["active_users"], \
	       "completions", r["code_completions"], "chats", r["chat_interactions"]) for r in active]'

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
