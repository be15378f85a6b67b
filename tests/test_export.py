"""`tiermon export`: round trips, redaction and scrubbing, a self-contained HTML report, confinement."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import stat
import sys
import types
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from conftest import CliResult
from tiermon.ingest.redact import SECRET, scrub
from transcripts import assistant, prompt, usage, write

A = "aaaaaaaa-1111-4111-8111-000000000001"
B = "bbbbbbbb-2222-4222-8222-000000000002"
PLANTED = "sk-ant-api03-PLANTED0123456789abcdefghijklmnopqrstuvwxyz_-XYZ"
"""A fake Anthropic key planted in a prompt, a tool call and an assistant reply."""
SECRET_MARK = "PLANTED0123456789"
SCRIPT = "<script>alert('x')</script>"
DAY = 86_400


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Two sessions: A (shop, sonnet then haiku, with the planted secret) and B (blog, opus, three days later)."""
    root = tmp_path / "claude"
    shop = root / "projects" / "-home-dev-shop"
    write(shop / f"{A}.jsonl", [
        prompt(A, "a-u1", 0, f"deploy with ANTHROPIC_API_KEY={PLANTED} please {SCRIPT}"),
        assistant(A, "a-a1", 5, "msg_a1", "req_a1", "claude-sonnet-4-5-20250929", usage(100, 200, 1000, 500),
                  {"type": "tool_use", "id": "toolu_1", "name": "Bash",
                   "input": {"command": f"curl -H 'x-api-key: {PLANTED}' https://api.example.com"}}),
        assistant(A, "a-a2", 9, "msg_a2", "req_a2", "claude-sonnet-4-5-20250929", usage(20, 300, 1500),
                  {"type": "text", "text": f"Done. I used {PLANTED} as asked. {SCRIPT}"}),
        prompt(A, "a-u2", 60, "=HYPERLINK(\"http://evil.example\",\"click\")"),
        assistant(A, "a-a3", 65, "msg_a3", "req_a3", "claude-haiku-4-5-20251001", usage(30, 50, 2000)),
    ])  # fmt: skip
    blog = root / "projects" / "-home-dev-blog"
    write(blog / f"{B}.jsonl", [
        prompt(B, "b-u1", 3 * DAY, "write the post", cwd="/home/dev/blog"),
        assistant(B, "b-a1", 3 * DAY + 4, "msg_b1", "req_b1", "claude-opus-4-6", usage(10, 900, 0, 3000),
                  cwd="/home/dev/blog"),
    ])  # fmt: skip
    return root


Run = Callable[..., CliResult]


def export(tiermon: Run, db: Path, source: Path, out: Path, *args: str, check: bool = True) -> CliResult:
    return tiermon("--db", str(db), "--source", str(source), "export", "--out", str(out), "--timezone", "UTC",
                   *args, check=check)  # fmt: skip


def manifest(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return data


def store_rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def all_text(path: Path) -> str:
    """Everything a file says: raw text, or every cell of a (compressed) Parquet file."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return "\n".join([*frame.columns, *(str(v) for col in frame.iter_columns() for v in col.to_list())])
    return path.read_text(encoding="utf-8")


# -- round trips -----------------------------------------------------------------


def test_parquet_round_trip_equals_the_store(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "parquet")
    got = pl.read_parquet(out / "responses.parquet")
    want = store_rows(db, "SELECT * FROM responses ORDER BY k")
    assert sorted(got["k"].to_list()) == [r["k"] for r in want]
    assert got.columns == list(want[0])
    by_key = {r["k"]: r for r in got.to_dicts()}
    for row in want:
        mine = by_key[row["k"]]
        for name, value in row.items():
            if name == "ts":
                assert mine["ts"].replace(tzinfo=None) == value
            elif isinstance(value, float):
                assert mine[name] == pytest.approx(value)
            else:
                assert mine[name] == value, name
    for field in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                  "cache_write_1h_tokens"):  # fmt: skip
        assert got[field].sum() == sum(r[field] for r in want)
    assert got["cost_usd"].sum() == pytest.approx(sum(r["cost_usd"] for r in want))
    events = pl.read_parquet(out / "events.parquet")
    assert sorted(events["k"].to_list()) == [r["k"] for r in store_rows(db, "SELECT k FROM events ORDER BY k")]
    sessions = pl.read_parquet(out / "sessions.parquet")
    assert sorted(sessions["session_id"].to_list()) == [A, B]
    assert sessions["cost_usd"].sum() == pytest.approx(got["cost_usd"].sum())


def test_jsonl_and_csv_hold_the_same_rows(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "jsonl", "--format", "csv")
    lines = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    with (out / "responses.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["k"] for r in lines] == [r["k"] for r in rows]
    assert {r["k"] for r in lines} == {"msg_a1:req_a1", "msg_a2:req_a2", "msg_a3:req_a3", "msg_b1:req_b1"}
    assert lines[0]["ts"] == "2026-03-02T09:00:05Z"
    assert [int(r["output_tokens"]) for r in rows] == [r["output_tokens"] for r in lines]
    assert not (out / "report.html").exists() and not (out / "responses.parquet").exists()


def test_manifest_lists_every_file_with_its_hash(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out)
    m = manifest(out)
    from tiermon import __version__

    assert m["tiermon_version"] == __version__
    price_version = store_rows(db, "SELECT value FROM meta WHERE key = 'price_version'")[0]["value"]
    assert m["price_version"] == price_version
    assert m["redaction"] == {"text_redacted": True, "secrets_scrubbed": True}
    assert m["formats"] == ["jsonl", "csv", "parquet", "html"]
    assert m["filters"]["timezone"] == "UTC" and m["filters"]["sessions"] == []
    names = {f["name"] for f in m["files"]}
    assert "report.html" in names and {"responses.jsonl", "events.csv", "sessions.parquet"} <= names
    assert names | {"manifest.json"} == {p.name for p in out.iterdir()}
    for f in m["files"]:
        data = (out / f["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert len(data) == f["bytes"]
        if f["format"] == "jsonl":
            assert len(data.splitlines()) == f["rows"]
        if f["format"] == "parquet":
            assert pl.read_parquet(out / f["name"]).height == f["rows"]
    assert m["totals"]["responses"] == 4 and m["totals"]["sessions"] == 2
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "Manifest" in export(tiermon, db, source, tmp_path / "again").stdout


# -- redaction and scrubbing -------------------------------------------------------


@pytest.mark.parametrize("text_flag", [[], ["--include-text"]])
def test_planted_secret_never_appears(tiermon: Run, db: Path, source: Path, tmp_path: Path,
                                      text_flag: list[str]) -> None:  # fmt: skip
    out = tmp_path / "out"
    export(tiermon, db, source, out, *text_flag)
    files = sorted(out.iterdir())
    assert len(files) == 26
    for path in files:
        said = all_text(path)
        assert SECRET_MARK not in said and "sk-ant-" not in said, path.name
        if not text_flag:
            assert "<script" not in said.lower(), path.name
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    first = next(e for e in events if e["kind"] == "prompt")
    tool = next(e for e in events if e["kind"] == "tool_use")
    if text_flag:
        assert first["text"].startswith(f"deploy with ANTHROPIC_API_KEY={SECRET} please <script>")
        assert SECRET in tool["text"] and "curl" in tool["text"]
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
        assert manifest(out)["redaction"]["text_redacted"] is False
    else:
        assert re.fullmatch(r"\[redacted: \d+ chars\]", first["text"])
        assert re.fullmatch(r"\[redacted: \d+ chars\]", tool["text"])
        assert all(e["text"] is None or e["text"].startswith("[redacted") for e in events)


def test_csv_cells_cannot_start_a_formula(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "csv", "--include-text")
    with (out / "events.csv").open(newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh) if r["kind"] == "prompt"]
    assert "'=HYPERLINK(\"http://evil.example\",\"click\")" in texts
    for path in out.glob("*.csv"):
        with path.open(newline="") as fh:
            for row in csv.reader(fh):
                assert not any(cell[:1] in ("=", "+", "@") for cell in row), (path.name, row)


@pytest.mark.parametrize(
    "text",
    [
        PLANTED,
        "key sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "aws AKIAIOSFODNN7EXAMPLE here",
        "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
        "curl -H 'Authorization: Bearer abc.def-ghi_jkl012'",
        "slack xoxb-123456789012-abcdefghijkl",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA (cut off by the text limit)",
        "password=hunter2hunter2",
        'config {"client_secret": "s3cr3tvalue"}',
        "export ANTHROPIC_API_KEY=abc123def456",
        "git clone https://bob:s3cr3tvalue@git.example.com/repo",
    ],
)
def test_scrub_removes_common_secrets(text: str) -> None:
    scrubbed = scrub(text)
    assert SECRET in scrubbed
    for fragment in ("PLANTED", "abcdefghijkl", "IOSFODNN7", "MIIEow", "b3BlbnNz", "hunter2", "s3cr3t", "abc123",
                     "abc.def"):  # fmt: skip
        assert fragment not in scrubbed
    assert scrub(scrubbed) == scrubbed


def test_scrub_keeps_ordinary_text() -> None:
    for text in ("output_tokens: 512 and cache_read_tokens: 9", "the task-skeleton is fine", "my password is weak",
                 "ls -la /home/dev/shop", "claude-sonnet-4-5-20250929 msg_01ABC req_011CV"):  # fmt: skip
        assert scrub(text) == text


def test_signal_rows_are_scrubbed_and_redacted(db: Path, source: Path, monkeypatch: pytest.MonkeyPatch,
                                               tiermon: Run) -> None:  # fmt: skip
    """Alerts and advice come from the signals engine; their text is treated like event text."""
    from tiermon.ingest.export import Selection, collect
    from tiermon.ingest.store import Store

    tiermon("--db", str(db), "--source", str(source), "ingest")
    views = types.ModuleType("tiermon.ingest.signals.views")
    alert = {"session_id": A, "kind": "thrash", "severity": "warn", "start": "2026-03-02T09:00:05",
             "message": f"ran curl {PLANTED} 3 times", "figures": {"command": f"curl {PLANTED}", "repeats": 3}}
    switch = {"at": "2026-03-02T09:01:05", "from_model": "claude-sonnet-4-5", "to_model": "claude-haiku-4-5",
              "from_tier": "sonnet", "to_tier": "haiku", "direction": "down", "cause": "automatic"}
    vars(views).update(
        list_alerts=lambda store, session=None: [alert] if session in (None, A) else [],
        list_advice=lambda store, session=None: [],
        session_switches=lambda store, ids: {A: [switch]},
        session_subagents=lambda store, ids: {},
    )
    monkeypatch.setitem(sys.modules, "tiermon.ingest.signals.views", views)
    with Store.open(db, read_only=True) as store:
        redacted = collect(store, Selection(sessions=(A,)))
        kept = collect(store, Selection(sessions=(A,)), include_text=True)
    row = redacted.rows("alerts")[0]
    assert row["message"].startswith("[redacted") and "redacted" in row["figures"] and '"repeats": 3' in row["figures"]
    row = kept.rows("alerts")[0]
    assert row["message"] == f"ran curl {SECRET} 3 times" and SECRET_MARK not in row["figures"]
    assert redacted.rows("switches")[0]["direction"] == "down"
    assert redacted.rows("sessions")[0]["switches"] == 1 and redacted.rows("sessions")[0]["alerts"] == 1


# -- the HTML report ---------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_shows_tier_spend(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "html", "--include-text")
    html = (out / "report.html").read_text()
    assert not re.search(r"""(?i)\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*[a-z][a-z0-9+.-]*:""", html)
    assert not re.search(r"(?i)https?://|url\(|@import|<script|<link|<iframe|<img|<object|<embed", html.replace(
        "http://evil.example", ""))  # the user's own prompt text, escaped, is the only URL
    assert "&quot;http://evil.example&quot;" in html
    parser = _Tags()
    parser.feed(html)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")
    tiers = store_rows(db, "SELECT tier, sum(cost_usd) AS cost, count(*) AS n FROM responses GROUP BY tier")
    assert {t["tier"] for t in tiers} == {"sonnet", "haiku", "opus"}
    for t in tiers:
        row = re.search(rf'<tr data-tier="{t["tier"]}">(.*?)</tr>', html, re.DOTALL)
        assert row, t["tier"]
        assert f'data-usd="{round(t["cost"], 6)}"' in row.group(1)
        assert f'<td class="n">{t["n"]:,}</td>' in row.group(1)
    assert A in html and B in html
    if importlib.util.find_spec("tiermon.ingest.signals.views"):
        assert "claude-sonnet-4-5-20250929 → claude-haiku-4-5-20251001" in html  # A's automatic downgrade


def test_real_signals_reach_the_export(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    pytest.importorskip("tiermon.ingest.signals.views")
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "jsonl")
    switches = [json.loads(line) for line in (out / "switches.jsonl").read_text().splitlines()]
    assert [(s["session_id"], s["from_tier"], s["to_tier"], s["direction"], s["cause"]) for s in switches] == [
        (A, "sonnet", "haiku", "down", "automatic")]
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    assert any(a["kind"] == "model_switch" and a["severity"] == "warn" for a in alerts)
    assert all(a["message"].startswith("[redacted") for a in alerts)
    sessions = {json.loads(line)["session_id"]: json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()}
    assert sessions[A]["switches"] == 1 and sessions[B]["switches"] == 0


# -- selection ---------------------------------------------------------------------


def _exported_sessions(out: Path) -> list[str]:
    return sorted(json.loads(line)["session_id"] for line in (out / "sessions.jsonl").read_text().splitlines())


@pytest.mark.parametrize(
    ("args", "sessions"),
    [
        (["--session", A[:8]], [A]),
        (["--session", A, "--session", B], [A, B]),
        (["--project", "blog"], [B]),
        (["--since", "2026-03-04"], [B]),
        (["--until", "20260303"], [A]),
        (["--since", "2026-03-01", "--until", "2026-03-06", "--project", "shop"], [A]),
    ],
)
def test_selection(tiermon: Run, db: Path, source: Path, tmp_path: Path, args: list[str], sessions: list[str]) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "jsonl", *args)
    assert _exported_sessions(out) == sessions
    events = {json.loads(line)["session_id"] for line in (out / "events.jsonl").read_text().splitlines()}
    assert sorted(events) == sessions


def test_unknown_or_ambiguous_session_is_one_line_exit_2(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for bad in ("nope", ""):
        result = export(tiermon, db, source, out, "--session", bad, check=False)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "no session 'nope'" in export(tiermon, db, source, out, "--session", "nope", check=False).stderr
    twin = A[:-1] + "3"
    write(source / "projects" / "-home-dev-shop" / f"{twin}.jsonl", [
        assistant(twin, "t-a1", 30, "msg_t1", "req_t1", "claude-haiku-4-5", usage()),
    ])  # fmt: skip
    result = export(tiermon, db, source, out, "--session", A[:8], check=False)
    assert result.returncode == 2 and "ambiguous" in result.stderr
    export(tiermon, db, source, out, "--session", A, "--format", "jsonl")  # an exact id is never ambiguous
    assert _exported_sessions(out) == [A]


def test_empty_selection_exits_1_and_writes_nothing(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = export(tiermon, db, source, out, "--since", "2030-01-01", check=False)
    assert result.returncode == 1
    assert "no API responses match" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_dates_exit_2(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    for args in (["--since", "yesterday"], ["--since", "2026-03-05", "--until", "2026-03-01"],
                 ["--timezone", "Mars/Olympus"]):  # fmt: skip
        assert export(tiermon, db, source, tmp_path / "out", *args, check=False).returncode == 2


# -- confinement -------------------------------------------------------------------


def test_existing_symlink_is_refused_not_followed(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "events.jsonl").symlink_to(victim)
    result = export(tiermon, db, source, out, "--format", "jsonl", check=False)
    assert result.returncode == 2 and "symlink" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert victim.read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl"]  # nothing half-written, no temp files


@pytest.mark.parametrize("prefix", ["../escaped-", "sub/", "/tmp/abs-"])
def test_file_names_cannot_leave_the_folder(tiermon: Run, db: Path, source: Path, tmp_path: Path, prefix: str) -> None:
    out = tmp_path / "deep" / "out"
    result = export(tiermon, db, source, out, "--prefix", prefix, check=False)
    assert result.returncode == 2 and "would leave the output folder" in result.stderr
    assert not list(tmp_path.glob("deep/escaped-*")) and not list(Path("/tmp").glob("abs-*manifest.json"))


def test_prefix_names_the_files(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(tiermon, db, source, out, "--format", "html", "--prefix", "audit-2026-03-")
    assert sorted(p.name for p in out.iterdir()) == ["audit-2026-03-manifest.json", "audit-2026-03-report.html"]


def test_output_must_be_a_folder(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = export(tiermon, db, source, target, check=False)
    assert result.returncode == 2


def test_out_folder_is_created_private(tiermon: Run, db: Path, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    export(tiermon, db, source, out, "--format", "jsonl")
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert os.listdir(out)


def test_redaction_covers_paths_in_signal_figures_but_not_file_columns() -> None:
    """A path a tool read is transcript content wherever it appears; where tiermon read a line is not."""
    import pyarrow as pa

    from tiermon.ingest.export.cleaning import _clean, _clean_value

    row = {"kind": "reread", "figures": {"file_path": "/secret/plan.md", "reread_files": [{"file_path": "/x/y.py"}],
                                         "reads": 3}}  # fmt: skip
    cleaned = _clean_value(row, redacting=True)
    assert "/secret" not in str(cleaned) and "/x/y.py" not in str(cleaned) and cleaned["figures"]["reads"] == 3
    assert _clean_value(row, redacting=False) == row
    table = _clean(pa.table({"file_path": ["/home/u/.claude/projects/a.jsonl"], "text": ["cat /secret"]}), redacting=True)
    assert table.column("file_path").to_pylist() == ["/home/u/.claude/projects/a.jsonl"]
    assert "/secret" not in str(table.column("text").to_pylist())
