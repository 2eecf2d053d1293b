# Every target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo bench clean browser screenshot

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

pytest: $(STAMP) browser
	$(BIN)/pytest

# The report's browser tests drive Debian's Chromium (Playwright's own browser download is not
# used). Quick when it is already there; the tests fail, never skip, without it.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; }

# Benchmarks against aiohttp and httpx loops (several minutes; `make bench BENCH_ARGS=--quick`).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# A fresh sync of a fake organization into a SQLite dataset (earlier output is removed first), its
# status, the five users with the most accepted completions, and the adoption report built from it.
demo: $(STAMP)
	rm -rf demo-output
	$(BIN)/tabnine-usage sync --fake --fake-users 300 --to demo-output/usage.sqlite \
		--since 2025-07-01 --now 2026-01-16T00:00:00Z
	$(BIN)/tabnine-usage status --to demo-output/usage.sqlite
	$(BIN)/python -c 'import sqlite3; db = sqlite3.connect("demo-output/usage.sqlite"); \
	print("top users by accepted completions since 2025-07-01:"); \
	[print(f"  {email:40} {total:>8}") for email, total in db.execute( \
	    "SELECT user_email, SUM(code_completions) AS n FROM usage WHERE scope = ? " \
	    "GROUP BY user_id ORDER BY n DESC LIMIT 5", ("user",))]'
	$(BIN)/tabnine-usage report --from demo-output/usage.sqlite --output demo-output/report.html
	@echo "report: $$(pwd)/demo-output/report.html"

# Regenerate the README's picture of the report from the demo's data, in the same headless browser.
screenshot: $(STAMP) browser
	test -f demo-output/report.html || $(MAKE) demo
	$(BIN)/python -m tests.browser_support demo-output/report.html docs/report.png

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
