"""`tiermon reconcile` against a local stand-in for the Admin API (127.0.0.1, no network).

The stand-in serves the usage and cost report shapes of FORMATS §3.2, split
over two pages each, and checks the headers a real Admin API needs.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from conftest import CliResult
from tiermon.ingest.reconcile import (
    AdminApi,
    Figures,
    ReconcileError,
    Tolerance,
    admin_key,
    base_url,
    compare,
    fetch_theirs,
)

KEY = "sk-ant-admin01-TESTKEY-do-not-print"
DAY1, DAY2 = "2026-11-18", "2026-11-19"

Json = dict[str, Any]


# -- what tiermon logged -------------------------------------------------------------


def _usage(inp: int, out: int, read: int = 0) -> Json:
    return {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": 0, "service_tier": "standard"}  # fmt: skip


def _line(day: str, n: int, model: str, usage: Json) -> Json:
    return {"ts": f"{day}T{10 + n:02d}:00:00Z", "request_id": f"req_{day}_{n}", "app": "support",
            "response": {"id": f"msg_{day}_{n}", "type": "message", "model": model, "usage": usage}}  # fmt: skip


OUR_LINES = [
    # Day 1, Haiku: $0.0032 here and billed the same -> match.
    _line(DAY1, 0, "claude-haiku-4-5-20251001", _usage(1000, 200, read=2000)),
    _line(DAY1, 1, "claude-haiku-4-5-20251001", _usage(500, 100)),
    # Day 1, Sonnet 4.5: $0.06 here, billed $0.09 -> mismatch.
    _line(DAY1, 2, "claude-sonnet-4-5-20250929", _usage(10_000, 2_000)),
    # Day 2, Opus 4.6: logged, never billed -> missing-there.
    _line(DAY2, 0, "claude-opus-4-6", _usage(400, 100)),
    # Outside the range: ignored.
    _line("2026-11-25", 0, "claude-opus-4-6", _usage(400, 100)),
]


# -- what the Admin API says ---------------------------------------------------------


def _usage_result(model: str, inp: int, out: int, read: int = 0) -> Json:
    return {"uncached_input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
            "server_tool_use": {"web_search_requests": 0}, "api_key_id": None, "workspace_id": None,
            "model": model, "service_tier": None, "context_window": None, "inference_geo": None}  # fmt: skip


def _cost(model: str | None, cents: str, token_type: str | None, cost_type: str = "tokens") -> Json:
    return {"currency": "USD", "amount": cents, "workspace_id": None, "description": f"{model} {token_type}",
            "cost_type": cost_type, "context_window": "0-200k", "model": model, "service_tier": "standard",
            "token_type": token_type, "inference_geo": None}  # fmt: skip


def _bucket(day: str, results: list[Json]) -> Json:
    nxt = date.fromisoformat(day).toordinal() + 1
    return {"starting_at": f"{day}T00:00:00Z", "ending_at": f"{date.fromordinal(nxt)}T00:00:00Z", "results": results}


USAGE_PAGES = [
    {"data": [_bucket(DAY1, [_usage_result("claude-haiku-4-5-20251001", 1500, 300, 2000),
                             _usage_result("claude-sonnet-4-5-20250929", 10_000, 2_000)])],
     "has_more": True, "next_page": "page_2"},
    {"data": [_bucket(DAY2, [_usage_result("claude-sonnet-4-6", 3000, 500)])], "has_more": False, "next_page": None},
]  # fmt: skip
COST_PAGES = [
    {"data": [_bucket(DAY1, [
        _cost("claude-haiku-4-5-20251001", "0.15", "uncached_input_tokens"),
        _cost("claude-haiku-4-5-20251001", "0.15", "output_tokens"),
        _cost("claude-haiku-4-5-20251001", "0.02", "cache_read_input_tokens"),
        _cost("claude-sonnet-4-5-20250929", "3.0", "uncached_input_tokens"),
        _cost("claude-sonnet-4-5-20250929", "6.0", "output_tokens"),
        _cost("claude-sonnet-4-5-20250929", "2.0", None, cost_type="web_search"),
    ])], "has_more": True, "next_page": "page_2"},
    {"data": [_bucket(DAY2, [_cost("claude-sonnet-4-6", "0.9", "uncached_input_tokens"),
                             _cost("claude-sonnet-4-6", "0.75", "output_tokens")])],
     "has_more": False, "next_page": None},
]  # fmt: skip


class AdminStandIn(ThreadingHTTPServer):
    """Serves recorded-shape report pages; answers 401 unless the documented headers are there."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages = {"/v1/organizations/usage_report/messages": USAGE_PAGES,
                      "/v1/organizations/cost_report": COST_PAGES}  # fmt: skip
        self.seen: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.status: int | None = None
        """When set, every request gets this status with an API error body."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: AdminStandIn

    def do_GET(self) -> None:  # http.server's naming
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        self.server.seen.append((parts.path, params, {k.lower(): v for k, v in self.headers.items()}))
        if self.server.status is not None:
            self._send(self.server.status, {"type": "error", "error": {"type": "api_error", "message": "boom"}})
        elif self.headers.get("x-api-key") != KEY or self.headers.get("anthropic-version") != "2023-06-01":
            self._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        elif parts.path not in self.server.pages:
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})
        else:
            pages = self.server.pages[parts.path]
            self._send(200, pages[1] if params.get("page") == ["page_2"] else pages[0])

    def _send(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture(autouse=True)
def _no_admin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own Admin key, base URL or proxy never reach these tests."""
    for var in ("ANTHROPIC_ADMIN_KEY", "ANTHROPIC_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def admin() -> Iterator[AdminStandIn]:
    server = AdminStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_log(tmp_path: Path) -> Path:
    log = tmp_path / "logs" / "support.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps(line) + "\n" for line in OUR_LINES), "utf-8")
    return log


Run = Callable[..., CliResult]


def _run(tiermon: Callable[..., CliResult], tmp_path: Path, log: Path, *args: str, key: str | None = KEY,
         check: bool = True, env: dict[str, str] | None = None) -> CliResult:  # fmt: skip
    empty = tmp_path / "no-transcripts"
    empty.mkdir(exist_ok=True)
    extra = {**({"ANTHROPIC_ADMIN_KEY": key} if key else {}), **(env or {})}
    return tiermon("--db", str(tmp_path / "db.duckdb"), "--source", str(empty), "--api-log", str(log),
                   "reconcile", "--since", DAY1, "--until", DAY2, *args, check=check, env=extra)  # fmt: skip


# -- the command -------------------------------------------------------------------------


def test_reconcile_json_pages_through_both_reports(tiermon: Run, tmp_path: Path, api_log: Path,
                                                   admin: AdminStandIn) -> None:  # fmt: skip
    result = _run(tiermon, tmp_path, api_log, "--base-url", admin.url, "--json")
    data = json.loads(result.stdout)
    got = {(r["day"], r["model"]): r for r in data["rows"]}
    assert {k: r["status"] for k, r in got.items()} == {
        (DAY1, "claude-haiku-4-5"): "match",
        (DAY1, "claude-sonnet-4-5"): "mismatch",
        (DAY2, "claude-opus-4-6"): "missing-there",
        (DAY2, "claude-sonnet-4-6"): "missing-here",
    }
    haiku = got[(DAY1, "claude-haiku-4-5")]
    assert haiku["ours"]["cost_usd"] == pytest.approx(0.0032) and haiku["theirs"]["cost_usd"] == pytest.approx(0.0032)
    assert haiku["ours"]["requests"] == 2 and haiku["ours"]["tokens"] == haiku["theirs"]["tokens"] == 3800
    sonnet = got[(DAY1, "claude-sonnet-4-5")]
    assert sonnet["reasons"] == ["cost"]
    assert (sonnet["ours"]["cost_usd"], sonnet["theirs"]["cost_usd"]) == (pytest.approx(0.06), pytest.approx(0.09))
    assert sonnet["cost_delta_usd"] == pytest.approx(-0.03)
    assert sonnet["theirs"]["other_cost_usd"] == pytest.approx(0.02)  # web search: shown, not compared
    missing_here = got[(DAY2, "claude-sonnet-4-6")]
    assert missing_here["ours"] is None and missing_here["theirs"]["cost_usd"] == pytest.approx(0.0165)
    assert got[(DAY2, "claude-opus-4-6")]["theirs"] is None
    assert data["totals"]["statuses"] == {"match": 1, "mismatch": 1, "missing-here": 1, "missing-there": 1}
    assert KEY not in result.stdout and KEY not in result.stderr

    paths = [(path, params.get("page")) for path, params, _ in admin.seen]
    assert paths == [("/v1/organizations/usage_report/messages", None),
                     ("/v1/organizations/usage_report/messages", ["page_2"]),
                     ("/v1/organizations/cost_report", None),
                     ("/v1/organizations/cost_report", ["page_2"])]  # fmt: skip
    usage_params, cost_params = admin.seen[0][1], admin.seen[2][1]
    assert usage_params["group_by[]"] == ["model"] and cost_params["group_by[]"] == ["description"]
    assert usage_params["bucket_width"] == ["1d"] and cost_params["bucket_width"] == ["1d"]
    assert usage_params["starting_at"] == [f"{DAY1}T00:00:00Z"] and usage_params["ending_at"] == ["2026-11-20T00:00:00Z"]
    assert all(h["x-api-key"] == KEY and h["anthropic-version"] == "2023-06-01" for _, _, h in admin.seen)


def test_reconcile_table(tiermon: Run, tmp_path: Path, api_log: Path, admin: AdminStandIn) -> None:
    out = _run(tiermon, tmp_path, api_log, env={"ANTHROPIC_BASE_URL": admin.url, "NO_COLOR": "1"}).stdout
    for text in ("tiermon reconcile 2026-11-18 .. 2026-11-19", "claude-haiku-4-5", "match", "mismatch (cost)",
                 "missing-here", "missing-there", "$0.06", "$0.09", "-$0.03", "1 match, 1 mismatch"):  # fmt: skip
        assert text in out, text
    assert "Non-token charges billed (web search, code execution): $0.02" in out
    assert KEY not in out


def test_fail_on_mismatch_exits_1(tiermon: Run, tmp_path: Path, api_log: Path, admin: AdminStandIn) -> None:
    result = _run(tiermon, tmp_path, api_log, "--base-url", admin.url, "--json", "--fail-on-mismatch", check=False)
    assert result.returncode == 1 and json.loads(result.stdout)["rows"]


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_one_line_exit_2(tiermon: Run, tmp_path: Path, api_log: Path, admin: AdminStandIn,
                                        status: int) -> None:  # fmt: skip
    if status == 403:
        admin.status = 403
    result = _run(tiermon, tmp_path, api_log, "--base-url", admin.url, key="sk-ant-admin01-WRONG", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tiermon: error: the Admin API refused the key (HTTP {status}): "
        "check that ANTHROPIC_ADMIN_KEY holds a valid Admin key (sk-ant-admin…)"
    )
    assert "WRONG" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_missing_key_is_one_line_exit_2(tiermon: Run, tmp_path: Path, api_log: Path, admin: AdminStandIn) -> None:
    result = _run(tiermon, tmp_path, api_log, "--base-url", admin.url, key=None, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "tiermon: error: ANTHROPIC_ADMIN_KEY is not set: reconcile needs an Anthropic Admin API key"
    assert admin.seen == []


def test_unreachable_api_is_one_line_exit_2(tiermon: Run, tmp_path: Path, api_log: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _run(tiermon, tmp_path, api_log, "--base-url", f"http://127.0.0.1:{port}", check=False)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"tiermon: error: cannot reach the Admin API at http://127.0.0.1:{port}")
    assert KEY not in line


def test_server_error_is_one_line_exit_2(tiermon: Run, tmp_path: Path, api_log: Path, admin: AdminStandIn) -> None:
    admin.status = 500
    result = _run(tiermon, tmp_path, api_log, "--base-url", admin.url, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tiermon: error: the Admin API answered HTTP 500 for /v1/organizations/usage_report/messages: boom")


# -- the pieces ----------------------------------------------------------------------------


def test_tolerance_on_cost_and_tokens() -> None:
    tol = Tolerance(pct=1.0, usd=0.01)
    assert tol.cost_ok(0.005, 0.0) and tol.cost_ok(10.0, 10.09) and not tol.cost_ok(10.0, 10.2)
    assert tol.tokens_ok(1000, 1010) and not tol.tokens_ok(1000, 1020)
    d = date(2026, 1, 1)
    ours = {(d, "m"): Figures(input_tokens=1000, output_tokens=100, cost_usd=1.0)}
    theirs = {(d, "m"): Figures(input_tokens=1000, output_tokens=150, cost_usd=1.0)}
    (row,) = compare(ours, theirs, tol)
    assert (row.status, row.reasons, row.token_delta) == ("mismatch", ["output_tokens"], -50)
    unpriced = {(d, "m"): Figures(input_tokens=1000, output_tokens=150, cost_usd=None)}
    (row,) = compare(unpriced, theirs, tol)
    assert (row.status, row.reasons, row.cost_delta) == ("mismatch", ["unpriced here"], None)


def test_settings_from_the_environment() -> None:
    with pytest.raises(ReconcileError, match="ANTHROPIC_ADMIN_KEY is not set"):
        admin_key({})
    assert admin_key({"ANTHROPIC_ADMIN_KEY": " k "}) == "k"
    assert base_url(None, {}) == "https://api.anthropic.com"
    assert base_url(None, {"ANTHROPIC_BASE_URL": "http://proxy.local/"}) == "http://proxy.local"
    assert base_url("https://cli.example", {"ANTHROPIC_BASE_URL": "http://env"}) == "https://cli.example"
    with pytest.raises(ReconcileError, match="not an http"):
        base_url("ftp://x", {})


def test_pages_stop_when_a_server_never_says_done(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiermon.ingest.reconcile as reconcile

    monkeypatch.setattr(reconcile, "MAX_PAGES", 3)
    calls: list[str] = []

    def forever(request: httpx2.Request) -> httpx2.Response:
        calls.append(str(request.url))
        return httpx2.Response(200, json={"data": [], "has_more": True, "next_page": "again"})

    with (
        AdminApi(KEY, "http://admin.test", transport=httpx2.MockTransport(forever)) as api,
        pytest.raises(ReconcileError, match="kept reporting more pages"),
    ):
        fetch_theirs(api, date(2026, 1, 1), date(2026, 1, 2))
    assert len(calls) == 3


def test_cost_amounts_are_cents_and_malformed_ones_fail_cleanly() -> None:
    def reply(request: httpx2.Request) -> httpx2.Response:
        results = [_cost("claude-opus-4-6", "12345.6", "output_tokens")] if "cost_report" in request.url.path else []
        return httpx2.Response(200, json={"data": [_bucket("2026-01-01", results)], "has_more": False})

    with AdminApi(KEY, "http://admin.test", transport=httpx2.MockTransport(reply)) as api:
        theirs = fetch_theirs(api, date(2026, 1, 1), date(2026, 1, 1))
    assert theirs[(date(2026, 1, 1), "claude-opus-4-6")].cost_usd == pytest.approx(123.456)

    def bad(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"data": [_bucket("2026-01-01", [_cost("m", "lots", "output_tokens")])]})

    with (
        AdminApi(KEY, "http://admin.test", transport=httpx2.MockTransport(bad)) as api,
        pytest.raises(ReconcileError, match="not a number"),
    ):
        fetch_theirs(api, date(2026, 1, 1), date(2026, 1, 1))
