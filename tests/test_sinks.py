"""Output sinks: round trips, CSV quoting, fresh starts, and exactly-once output after a kill."""

from __future__ import annotations

import contextlib
import csv
import gc
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabnine_usage_async.checkpoint import Checkpoint
from tabnine_usage_async.errors import InvalidParameterError, TabnineError
from tabnine_usage_async.records import RECORD_FIELDS, UsageRecord
from tabnine_usage_async.sinks import (
    FORMATS,
    PARQUET_MISSING,
    SinkError,
    format_for_path,
    open_sink,
    read_records,
)

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
METRICS = [name for name in RECORD_FIELDS[9:] if name != "extra"]


def record(i: int, **changes: Any) -> UsageRecord:
    """A record whose scope, ids, period and metrics all vary with ``i``; unique key per ``i``."""
    scope = ("user", "team", "organization")[i % 3]
    day = START + timedelta(days=i // 3)
    values: dict[str, Any] = {
        "scope": scope,
        "organization_id": "org-1",
        "team_id": f"team-{i}" if scope == "team" else None,
        "team_ids": ("team-a", f"team-{i}") if scope == "user" else (),
        "user_id": f"user-{i}" if scope == "user" else None,
        "user_email": f"user-{i}@example.com" if scope == "user" else None,
        "granularity": "daily",
        "period_start": day,
        "period_end": day + timedelta(days=1),
        "extra": {"seen": i, "nested": {"list": [i, None, "x"], "flag": i % 2 == 0}},
    }
    for n, name in enumerate(METRICS):
        if (i + n) % 4 == 0:
            continue  # left out by the server: must stay None
        is_float = name in ("productivity_factor", "automation_factor", "chat_consumption_rate")
        values[name] = (i + n) / 7 if is_float else i * 10 + n
    values.update(changes)
    return UsageRecord(**values)


def records(start: int, count: int) -> list[UsageRecord]:
    """``count`` consecutive records from ``record(start)``."""
    return [record(i) for i in range(start, start + count)]


def row_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """The unique key of a row, as ``UsageRecord.key`` computes it for the record."""
    entity = row["user_id"] or row["team_id"] or row["organization_id"]
    return (row["scope"], entity, row["granularity"], row["period_start"])


def expect(recs: list[UsageRecord], fmt: str) -> list[dict[str, Any]]:
    """What ``read_records`` must return: ordered for files, sorted by key for SQLite."""
    rows = [r.to_row() for r in recs]
    return sorted(rows, key=row_key) if fmt == "sqlite" else rows


def read(path: Path, fmt: str) -> list[dict[str, Any]]:
    """``read_records``, sorted by key for SQLite (whose order follows replacements)."""
    rows = read_records(path, fmt)
    return sorted(rows, key=row_key) if fmt == "sqlite" else rows


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    """Each output format in turn."""
    return str(request.param)


def out_path(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / f"usage.{fmt}"


@contextlib.contextmanager
def killed() -> Iterator[None]:
    """Sinks deleted inside this block are dropped without close, as a killed process would."""
    with warnings.catch_warnings():
        # An unclosed file or database is exactly the state being simulated.
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


# --- round trips -----------------------------------------------------------------------------


def test_round_trip(tmp_path: Path, fmt: str) -> None:
    """Records written in batches read back as their to_row() dicts, in order for files."""
    path = out_path(tmp_path, fmt)
    recs = records(0, 25)
    with open_sink(path) as sink:
        assert sink.format == fmt and sink.path == path
        sink.write(recs[:10])
        sink.flush()
        sink.write([])
        sink.write(recs[10:])
    assert read(path, fmt) == expect(recs, fmt)


def test_none_metrics_stay_none_and_zero_stays_zero(tmp_path: Path, fmt: str) -> None:
    """A metric left out reads back as None, a zero metric as 0; neither turns into the other."""
    path = out_path(tmp_path, fmt)
    empty = record(0, **dict.fromkeys(METRICS))
    zeros = record(1, **dict.fromkeys(METRICS, 0))
    with open_sink(path) as sink:
        sink.write([empty, zeros])
    rows = {row["scope"]: row for row in read_records(path)}
    assert all(rows["user"][name] is None for name in METRICS)
    assert all(rows["team"][name] == 0 and rows["team"][name] is not None for name in METRICS)


AWKWARD = [
    "",
    "comma, inside",
    'quote " and ""double""',
    "line\nbreak and \r\n crlf and \r cr",
    "ünïcødé — 日本語 🚀",
    "line separator \u2028 and paragraph \u2029",
    "trailing backslash \\",
    " leading and trailing spaces ",
]


def test_awkward_strings_survive(tmp_path: Path, fmt: str) -> None:
    """Separators, quotes, newlines, unicode and empty strings (not None) round-trip unchanged."""
    path = out_path(tmp_path, fmt)
    recs = [
        record(
            3 * i,
            user_email=text,
            user_id=f"id {text}",
            team_ids=(text, "b"),
            extra={"text": text, "deep": [{"k": text}]},
        )
        for i, text in enumerate(AWKWARD)
    ]
    with open_sink(path) as sink:
        sink.write(recs)
    assert read(path, fmt) == expect(recs, fmt)


def test_fresh_start_replaces_old_output(tmp_path: Path, fmt: str) -> None:
    """Opening without resume empties the output, whatever an earlier run left there."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 10))
    with open_sink(path) as sink:
        sink.write(records(100, 3))
    assert read(path, fmt) == expect(records(100, 3), fmt)


def test_fresh_start_over_a_foreign_file(tmp_path: Path, fmt: str) -> None:
    """A fresh start over an unrelated file of the same name replaces it."""
    path = out_path(tmp_path, fmt)
    path.write_bytes(b"not an output at all\n")
    with open_sink(path) as sink:
        sink.write(records(0, 2))
    assert read(path, fmt) == expect(records(0, 2), fmt)


def test_close_is_idempotent_and_final(tmp_path: Path, fmt: str) -> None:
    """Closing twice is harmless; writing or flushing after close raises SinkError."""
    path = out_path(tmp_path, fmt)
    sink = open_sink(path)
    sink.write(records(0, 2))
    sink.close()
    sink.close()
    with pytest.raises(SinkError):
        sink.write(records(2, 1))
    with pytest.raises(SinkError):
        sink.flush()
    assert read(path, fmt) == expect(records(0, 2), fmt)


def test_flush_without_new_records_keeps_the_marker(tmp_path: Path, fmt: str) -> None:
    """Flushing twice with nothing written in between returns the same marker."""
    with open_sink(out_path(tmp_path, fmt)) as sink:
        sink.write(records(0, 3))
        first = sink.flush()
        assert sink.flush() == first


def test_markers_grow_with_each_flush(tmp_path: Path, fmt: str) -> None:
    """Each flush of new records yields a new marker."""
    with open_sink(out_path(tmp_path, fmt)) as sink:
        markers = []
        for start in (0, 5, 10):
            sink.write(records(start, 5))
            markers.append(sink.flush())
    assert len(set(markers)) == 3


# --- crashes ---------------------------------------------------------------------------------


def test_resume_after_abandoned_sink(tmp_path: Path, fmt: str) -> None:
    """Resuming at the committed marker drops everything after it, including a torn line."""
    path = out_path(tmp_path, fmt)
    first, second, third, redone = records(0, 6), records(6, 6), records(12, 6), records(6, 12)
    sink = open_sink(path)
    sink.write(first)
    committed = sink.flush()
    sink.write(second)
    sink.flush()  # durable in the output, but its units never reached the checkpoint
    sink.write(third)  # never flushed at all
    with killed():
        del sink
    if fmt in ("jsonl", "csv"):
        with open(path, "ab") as torn:
            torn.write(b'{"scope":"user","organization_id":"or' if fmt == "jsonl" else b'"user",')
    with open_sink(path, resume=committed) as sink:
        sink.write(redone)
    assert read(path, fmt) == expect(first + redone, fmt)


def test_resume_twice_from_the_same_marker(tmp_path: Path, fmt: str) -> None:
    """Two crashes in a row after the same commit still leave each record once."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 4))
        committed = sink.flush()
        sink.write(records(4, 4))
    for _ in range(2):
        sink = open_sink(path, resume=committed)
        sink.write(records(4, 2))
        with killed():
            del sink
    with open_sink(path, resume=committed) as sink:
        sink.write(records(4, 4))
    assert read(path, fmt) == expect(records(0, 8), fmt)


def test_resume_after_finished_run_continues(tmp_path: Path, fmt: str) -> None:
    """A closed output resumed at its last marker keeps its records and takes new ones."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 5))
        marker = sink.flush()
    with open_sink(path, resume=marker) as sink:
        sink.write(records(5, 5))
    assert read(path, fmt) == expect(records(0, 10), fmt)


def test_resume_of_missing_output_fails(tmp_path: Path, fmt: str) -> None:
    """A marker for an output that no longer exists is refused with SinkError."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 3))
        marker = sink.flush()
    path.unlink()
    with pytest.raises(SinkError, match="missing"):
        open_sink(path, resume=marker)


def test_marker_of_another_format_is_refused(tmp_path: Path) -> None:
    """Each format rejects the markers the other formats produce."""
    markers = {}
    for fmt in FORMATS:
        with open_sink(out_path(tmp_path, fmt)) as sink:
            sink.write(records(0, 2))
            markers[fmt] = sink.flush()
    for fmt, other in itertools.permutations(FORMATS, 2):
        if markers[fmt].split(":")[0] != markers[other].split(":")[0]:
            with pytest.raises(SinkError, match=r"marker|position"):
                open_sink(out_path(tmp_path, fmt), resume=markers[other])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_shortened_text_output_is_refused(tmp_path: Path, fmt: str) -> None:
    """A text output shorter than its committed offset cannot be resumed."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 3))
        marker = sink.flush()
    with open(path, "r+b") as file:
        file.truncate(os.path.getsize(path) - 5)
    with pytest.raises(SinkError, match="bytes"):
        open_sink(path, resume=marker)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_marker_off_a_line_boundary_is_refused(tmp_path: Path, fmt: str) -> None:
    """An offset that does not end a line means the file was changed, so resume refuses it."""
    path = out_path(tmp_path, fmt)
    with open_sink(path) as sink:
        sink.write(records(0, 3))
        offset = int(sink.flush().split(":")[1])
    with pytest.raises(SinkError, match="does not match"):
        open_sink(path, resume=f"offset:{offset - 3}")


def test_sqlite_replayed_unit_keeps_one_row_per_key(tmp_path: Path) -> None:
    """Writing the same records again replaces them: one row per key, the latest values win."""
    path = tmp_path / "usage.sqlite"
    original = records(0, 9)
    replay = [record(i, active_users=-i) for i in range(9)]
    with open_sink(path) as sink:
        sink.write(original)
        sink.flush()
        sink.write(replay)
        sink.flush()
        sink.write(replay)
    assert read(path, "sqlite") == expect(replay, "sqlite")


def test_sqlite_fewer_rows_than_committed_is_refused(tmp_path: Path) -> None:
    """A database that lost rows since the commit cannot be resumed."""
    path = tmp_path / "usage.sqlite"
    with open_sink(path) as sink:
        sink.write(records(0, 4))
        marker = sink.flush()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM usage_records WHERE scope = 'team'")
    conn.close()
    with pytest.raises(SinkError, match="rows"):
        open_sink(path, resume=marker)


def parquet_parts(path: Path) -> list[str]:
    return sorted(p.name for p in path.with_name(path.name + ".parts").iterdir())


def test_parquet_resume_deletes_parts_past_the_marker(tmp_path: Path) -> None:
    """Parts after the committed count and half-written temporary parts are deleted on resume."""
    path = tmp_path / "usage.parquet"
    sink = open_sink(path)
    sink.write(records(0, 4))
    committed = sink.flush()
    sink.write(records(4, 4))
    sink.flush()
    with killed():
        del sink
    parts_dir = path.with_name(path.name + ".parts")
    (parts_dir / "part-00002.parquet.tmp").write_bytes(b"PAR1 torn")
    assert len(parquet_parts(path)) == 3
    sink = open_sink(path, resume=committed)
    assert len(parquet_parts(path)) == 1
    sink.write(records(10, 2))
    sink.close()
    assert not parts_dir.exists()
    assert read_records(path) == expect(records(0, 4) + records(10, 2), "parquet")


def test_parquet_missing_committed_part_is_refused(tmp_path: Path) -> None:
    """A resume whose committed part files are gone raises SinkError naming the part."""
    path = tmp_path / "usage.parquet"
    sink = open_sink(path)
    sink.write(records(0, 2))
    sink.flush()
    sink.write(records(2, 2))
    marker = sink.flush()
    with killed():
        del sink
    (path.with_name(path.name + ".parts") / "part-00000.parquet").unlink()
    with pytest.raises(SinkError, match="part-00000"):
        open_sink(path, resume=marker)


def test_parquet_finished_output_is_split_back_at_an_earlier_marker(tmp_path: Path) -> None:
    """After close, resuming at an earlier marker keeps only the parts committed by then."""
    path = tmp_path / "usage.parquet"
    with open_sink(path) as sink:
        sink.write(records(0, 3))
        first = sink.flush()
        sink.write(records(3, 3))
        sink.flush()
        sink.write(records(6, 3))
    with open_sink(path, resume=first) as sink:
        sink.write(records(20, 2))
    assert read_records(path) == expect(records(0, 3) + records(20, 2), "parquet")


def test_parquet_file_has_the_documented_schema(tmp_path: Path) -> None:
    """The final file is plain Parquet: timestamps in UTC seconds, a string list, JSON extra."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "usage.parquet"
    recs = records(0, 3)
    with open_sink(path) as sink:
        sink.write(recs)
    table = pq.read_table(path)
    assert table.schema.names == list(RECORD_FIELDS)
    # Parquet has no seconds unit, so the whole-second values come back as UTC milliseconds.
    stamp = table.schema.field("period_start").type
    assert pa.types.is_timestamp(stamp) and stamp.tz == "UTC"
    assert table.schema.field("team_ids").type == pa.list_(pa.string())
    assert table.schema.field("active_users").type == pa.int64()
    assert table.schema.field("automation_factor").type == pa.float64()
    column = table.column("period_start").to_pylist()
    assert column == [r.period_start for r in recs]
    assert [json.loads(e) for e in table.column("extra").to_pylist()] == [r.extra for r in recs]


def test_parquet_empty_output_is_valid(tmp_path: Path) -> None:
    """Closing a Parquet sink that got no records leaves a valid file with no rows."""
    path = tmp_path / "usage.parquet"
    open_sink(path).close()
    assert read_records(path) == []


CHILD = """
import os, signal, sys
from tests.test_sinks import records
from tabnine_usage_async.checkpoint import Checkpoint
from tabnine_usage_async.sinks import open_sink

path, fmt, checkpoint = sys.argv[1:4]
sink = open_sink(path, fmt)
with Checkpoint.open(checkpoint, job={"format": fmt}) as store:
    for batch in range(10_000):
        sink.write(records(batch * 7, 7))
        if batch % 3 == 2:
            marker = sink.flush()
            store.commit(done=[str(b) for b in range(batch + 1)], failed={}, sink_marker=marker)
            print(batch, flush=True)
"""


def test_sigkill_at_a_random_point_then_resume_gives_every_record_once(
    tmp_path: Path, fmt: str
) -> None:
    """A writer SIGKILLed mid-run, resumed from its checkpoint, loses and doubles nothing."""
    path, checkpoint = out_path(tmp_path, fmt), tmp_path / "job.checkpoint.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), fmt, str(checkpoint)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for _ in range(4):  # let it commit a few times, then kill it while it keeps writing
        assert child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    with Checkpoint.open(checkpoint, job={"format": fmt}) as store:
        done, marker = {int(b) for b in store.done_units()}, store.sink_marker
    assert done == set(range(len(done))) and len(done) >= 12
    total = len(done) + 5
    with open_sink(path, fmt, resume=marker) as sink:
        for batch in range(len(done), total):
            sink.write(records(batch * 7, 7))
    assert read(path, fmt) == expect(records(0, total * 7), fmt)


# --- formats and paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("out.jsonl", "jsonl"),
        ("out.ndjson", "jsonl"),
        ("out.csv", "csv"),
        ("OUT.CSV", "csv"),
        ("out.sqlite", "sqlite"),
        ("out.sqlite3", "sqlite"),
        ("out.db", "sqlite"),
        ("out.parquet", "parquet"),
        ("out.pq", "parquet"),
        ("dir.v2/out.tar.parquet", "parquet"),
    ],
)
def test_format_for_path(name: str, expected: str) -> None:
    """Each known extension maps to its format, whatever its case."""
    assert format_for_path(name) == expected
    assert format_for_path(Path(name)) == expected


@pytest.mark.parametrize("name", ["out.txt", "out", "out.json", "out.parquet.bak"])
def test_unknown_extension_is_refused(tmp_path: Path, name: str) -> None:
    """An extension no format claims is an InvalidParameterError listing the formats."""
    with pytest.raises(InvalidParameterError) as info:
        open_sink(tmp_path / name)
    assert all(fmt in str(info.value) for fmt in FORMATS)
    assert not (tmp_path / name).exists()


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    """A format name outside FORMATS is an InvalidParameterError listing the formats."""
    with pytest.raises(InvalidParameterError) as info:
        open_sink(tmp_path / "out.csv", "xlsx")
    assert "xlsx" in str(info.value) and all(fmt in str(info.value) for fmt in FORMATS)


def test_explicit_format_beats_the_extension(tmp_path: Path) -> None:
    """An explicit format is used even when the extension says otherwise."""
    path = tmp_path / "out.txt"
    with open_sink(path, "csv") as sink:
        sink.write(records(0, 2))
    assert path.read_text(encoding="utf-8").startswith(",".join(RECORD_FIELDS))
    assert read_records(path, "csv") == expect(records(0, 2), "csv")


def test_missing_folder_is_refused(tmp_path: Path, fmt: str) -> None:
    """An output in a folder that does not exist is refused before anything is written."""
    with pytest.raises(InvalidParameterError, match="does not exist"):
        open_sink(tmp_path / "nope" / f"out.{fmt}")
    assert not (tmp_path / "nope").exists()


def test_directory_as_output_is_refused(tmp_path: Path) -> None:
    """A path naming a directory is refused."""
    target = tmp_path / "out.csv"
    target.mkdir()
    with pytest.raises(InvalidParameterError, match="directory"):
        open_sink(target)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    """An output in a read-only folder is refused at open."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InvalidParameterError, match="not writable"):
            open_sink(folder / "out.jsonl")
    finally:
        folder.chmod(0o700)


def test_sink_errors_are_tabnine_errors() -> None:
    """SinkError belongs to the package's error tree."""
    assert issubclass(SinkError, TabnineError)


def test_missing_pyarrow_gives_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyarrow, Parquet output is refused with the pip command; other formats work."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InvalidParameterError) as info:
        open_sink(tmp_path / "out.parquet")
    assert str(info.value) == PARQUET_MISSING
    assert "pip install 'tabnine-usage-async[parquet]'" in str(info.value)
    with open_sink(tmp_path / "out.jsonl") as sink:
        sink.write(records(0, 1))


def test_importing_sinks_does_not_import_pyarrow() -> None:
    """pyarrow is loaded only when Parquet is used, so the base install works without it."""
    code = "import sys, tabnine_usage_async.sinks; print('pyarrow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- format details --------------------------------------------------------------------------


def test_csv_reads_with_the_standard_library(tmp_path: Path) -> None:
    """csv.DictReader sees the documented mapping: JSON lists and objects, empty cells for None."""
    path = tmp_path / "out.csv"
    rec = record(0, user_email="a,b", chat_lines=None, productivity_factor=0.1 + 0.2)
    with open_sink(path) as sink:
        sink.write([rec])
    with open(path, newline="", encoding="utf-8") as file:
        (row,) = list(csv.DictReader(file))
    assert list(row) == list(RECORD_FIELDS)
    assert json.loads(row["team_ids"]) == list(rec.team_ids)
    assert json.loads(row["extra"]) == rec.extra
    assert row["chat_lines"] == "" and row["user_email"] == "a,b"
    assert float(row["productivity_factor"]) == rec.productivity_factor
    assert row["period_start"] == rec.to_row()["period_start"]


def test_csv_keeps_none_and_empty_string_apart(tmp_path: Path) -> None:
    """None is an empty unquoted cell and "" a quoted empty one, so both read back as they were."""
    path = tmp_path / "out.csv"
    recs = [record(0, user_email=""), record(3, user_email=None)]
    with open_sink(path) as sink:
        sink.write(recs)
    assert [row["user_email"] for row in read_records(path)] == ["", None]


def test_jsonl_lines_are_compact_json_of_to_row(tmp_path: Path) -> None:
    """Each JSONL line is the compact, non-ASCII-escaped JSON of one record."""
    path = tmp_path / "out.jsonl"
    recs = [record(0, user_email="é@example.com"), record(1)]
    with open_sink(path) as sink:
        sink.write(recs)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    for line, rec in zip(lines, recs, strict=False):
        assert line == json.dumps(rec.to_row(), separators=(",", ":"), ensure_ascii=False)


def test_sqlite_schema(tmp_path: Path) -> None:
    """usage_records has the RECORD_FIELDS columns, a unique key index, and WAL journaling."""
    path = tmp_path / "out.sqlite"
    with open_sink(path) as sink:
        sink.write(records(0, 1))
    conn = sqlite3.connect(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(usage_records)")]
        indexes = conn.execute("PRAGMA index_list(usage_records)").fetchall()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        dupe = "INSERT INTO usage_records SELECT * FROM usage_records"
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(dupe)
    finally:
        conn.close()
    assert columns == list(RECORD_FIELDS)
    assert any(index[2] == 1 for index in indexes)
    assert mode == "wal"


def test_unfinished_jsonl_line_is_reported(tmp_path: Path) -> None:
    """read_records refuses a JSONL file ending in a torn line instead of dropping it silently."""
    path = tmp_path / "out.jsonl"
    with open_sink(path) as sink:
        sink.write(records(0, 2))
    with open(path, "ab") as file:
        file.write(b'{"scope":')
    with pytest.raises(SinkError, match="unfinished"):
        read_records(path)


# --- property-based round trips --------------------------------------------------------------

_counter = itertools.count()
_ints = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
_floats = st.none() | st.floats(allow_nan=False)
_text = st.text(max_size=20)
_json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def usage_records(draw: st.DrawFn) -> UsageRecord:
    """Arbitrary user records: any text, any optional metric, any JSON extra."""
    moment = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.just(timezone.utc),
        )
    )
    metrics: dict[str, Any] = {
        name: draw(_floats if name.endswith(("factor", "rate")) else _ints) for name in METRICS
    }
    return UsageRecord(
        scope="user",
        organization_id=draw(_text),
        team_id=None,
        team_ids=tuple(draw(st.lists(_text, max_size=3))),
        user_id=draw(_text),
        user_email=draw(st.none() | _text),
        granularity="daily",
        period_start=moment,
        period_end=moment + timedelta(days=1),
        extra=draw(st.dictionaries(_text, _json_value, max_size=3)),
        **metrics,
    )


@pytest.mark.parametrize("text_fmt", ["csv", "jsonl"])
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(recs=st.lists(usage_records(), max_size=5))
def test_text_formats_round_trip_anything(
    tmp_path: Path, text_fmt: str, recs: list[UsageRecord]
) -> None:
    """Any strings, optional metrics and JSON extras survive CSV and JSONL unchanged."""
    path = tmp_path / f"case-{next(_counter)}.{text_fmt}"
    with open_sink(path) as sink:
        sink.write(recs)
    assert read_records(path) == [r.to_row() for r in recs]


def test_every_format_reads_back_the_same_rows(tmp_path: Path) -> None:
    """All formats hold the same rows for the same records, so outputs are interchangeable."""
    recs = [*records(0, 12), record(40, user_email="x\ny", extra={"a": [1, {"b": None}]})]
    outputs: dict[str, list[dict[str, Any]]] = {}
    for fmt in FORMATS:
        with open_sink(out_path(tmp_path, fmt)) as sink:
            sink.write(recs)
        outputs[fmt] = sorted(read_records(out_path(tmp_path, fmt)), key=row_key)
    first, *rest = outputs.values()
    assert all(other == first for other in rest)


def test_sink_can_be_driven_from_worker_threads(tmp_path: Path, fmt: str) -> None:
    """Writes and flushes may run in other threads than the open, one at a time."""
    path = out_path(tmp_path, fmt)
    sink = open_sink(path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(sink.write, records(0, 3)).result()
        pool.submit(sink.flush).result()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(sink.close).result()
    assert read(path, fmt) == expect(records(0, 3), fmt)
