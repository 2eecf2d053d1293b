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

# A fresh sync of a fake organization into a SQLite dataset (earlier output is removed first),
# then its status and the five users with the most accepted completions.
demo: $(STAMP)
	rm -rf demo-output
	$(BIN)/tabnine-usage sync --fake --fake-users 300 --to demo-output/usage.sqlite \
		--since 2025-10-01 --now 2026-01-15T18:00:00Z
	$(BIN)/tabnine-usage status --to demo-output/usage.sqlite
	$(BIN)/python -c 'import sqlite3; db = sqlite3.connect("demo-output/usage.sqlite"); \
	print("top users by accepted completions since 2025-10-01:"); \
	[print(f"  {email:40} {total:>8}") for email, total in db.execute( \
	    "SELECT user_email, SUM(code_completions) AS n FROM usage WHERE scope = ? " \
	    "GROUP BY user_id ORDER BY n DESC LIMIT 5", ("user",))]'

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
