"""Compare what tiermon computed from API logs with what Anthropic billed.

tiermon's API-log figures are estimates at list price from the lines it was
given; the Admin API's usage and cost reports are what the organisation was
actually charged. Lining them up per UTC day and model shows logs that miss
traffic (`missing-here`), traffic logged but not billed to this organisation
(`missing-there`), and prices or token counts that disagree (`mismatch`).

The Admin API endpoints are the "legacy" ones the Python SDK does not wrap
(FORMATS §3.2-3.3), so they are called over plain HTTP with the documented
headers. The Admin key is read from the environment and never echoed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tiermon.ingest.models import model_base

if TYPE_CHECKING:
    import httpx2

    from tiermon.ingest.store import Store

ADMIN_KEY_ENV = "ANTHROPIC_ADMIN_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
"""The version header the Admin API documents; the SDK's newer default is not verified there."""
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
PAGE_LIMIT = 31
"""Daily buckets per page: the most both endpoints allow."""
MAX_PAGES = 500
"""A server that keeps saying `has_more` is cut off here rather than followed forever."""
TIMEOUT_SECONDS = 30.0

TOKEN_CLASSES = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)
"""tiermon's token columns, compared class by class."""

NO_MODEL = "(no model)"
"""The model of Admin API cost rows that name none (such as code execution)."""


class ReconcileError(Exception):
    """A failure the user can act on (no key, a refused key, no network); one line, no secrets."""


@dataclass(frozen=True)
class Tolerance:
    """How far two figures may differ and still match."""

    pct: float = 1.0
    """Relative tolerance in percent, on cost and on each token class."""
    usd: float = 0.01
    """Absolute cost tolerance: tiny days never fail on rounding."""

    def cost_ok(self, ours: float, theirs: float) -> bool:
        return abs(ours - theirs) <= max(self.usd, abs(theirs) * self.pct / 100) + 1e-9

    def tokens_ok(self, ours: int, theirs: int) -> bool:
        return abs(ours - theirs) <= max(ours, theirs) * self.pct / 100


@dataclass
class Figures:
    """Tokens per class and cost for one day and model, on one side."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0
    cost_usd: float | None = 0.0
    """Token cost; None when tiermon has no price for some of the rows."""
    other_cost_usd: float = 0.0
    """Theirs only: web search, code execution and other non-token charges."""
    requests: int | None = None
    """Ours only: the Admin API reports no request counts."""

    @property
    def tokens(self) -> int:
        return sum(getattr(self, name) for name in TOKEN_CLASSES)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["tokens"] = self.tokens
        for name in ("cost_usd", "other_cost_usd"):
            if out[name] is not None:
                out[name] = round(out[name], 6)
        return out


Key = tuple[date, str]
"""(UTC day, model without its date suffix)."""


@dataclass
class Row:
    day: date
    model: str
    ours: Figures | None
    theirs: Figures | None
    status: str
    """match | mismatch | missing-here (only Anthropic has it) | missing-there (only the logs have it)."""
    reasons: list[str] = field(default_factory=list)
    """What differs: `cost`, a token class, or `unpriced here`."""

    @property
    def cost_delta(self) -> float | None:
        ours = self.ours.cost_usd if self.ours else 0.0
        theirs = self.theirs.cost_usd if self.theirs else 0.0
        if ours is None or theirs is None:
            return None
        return ours - theirs

    @property
    def token_delta(self) -> int:
        return (self.ours.tokens if self.ours else 0) - (self.theirs.tokens if self.theirs else 0)

    def as_dict(self) -> dict[str, Any]:
        delta = self.cost_delta
        return {
            "day": self.day.isoformat(),
            "model": self.model,
            "status": self.status,
            "reasons": self.reasons,
            "ours": self.ours.as_dict() if self.ours else None,
            "theirs": self.theirs.as_dict() if self.theirs else None,
            "cost_delta_usd": None if delta is None else round(delta, 6),
            "token_delta": self.token_delta,
        }


@dataclass
class Report:
    since: date
    until: date
    tolerance: Tolerance
    rows: list[Row]

    def counts(self) -> dict[str, int]:
        out = {"match": 0, "mismatch": 0, "missing-here": 0, "missing-there": 0}
        for row in self.rows:
            out[row.status] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        ours = sum((r.ours.cost_usd or 0.0) for r in self.rows if r.ours)
        theirs = sum((r.theirs.cost_usd or 0.0) for r in self.rows if r.theirs)
        other = sum(r.theirs.other_cost_usd for r in self.rows if r.theirs)
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "tolerance": {"pct": self.tolerance.pct, "usd": self.tolerance.usd},
            "rows": [r.as_dict() for r in self.rows],
            "totals": {
                "cost_ours_usd": round(ours, 6),
                "cost_theirs_usd": round(theirs, 6),
                "other_cost_theirs_usd": round(other, 6),
                "cost_delta_usd": round(ours - theirs, 6),
                "statuses": self.counts(),
            },
        }


# -- settings ----------------------------------------------------------------------


def admin_key(env: Mapping[str, str] | None = None) -> str:
    """The Admin API key from the environment: never from a file or the command line."""
    key = (os.environ if env is None else env).get(ADMIN_KEY_ENV, "").strip()
    if not key:
        raise ReconcileError(f"{ADMIN_KEY_ENV} is not set: reconcile needs an Anthropic Admin API key")
    return key


def base_url(explicit: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """--base-url, else ANTHROPIC_BASE_URL, else the public API."""
    url = (explicit or (os.environ if env is None else env).get(BASE_URL_ENV) or DEFAULT_BASE_URL).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ReconcileError(f"base URL {url!r} is not an http(s) URL")
    return url.rstrip("/")


# -- theirs: the Admin API -----------------------------------------------------------


class AdminApi:
    """Paged GETs against the Admin API; every failure becomes a ReconcileError.

    httpx2 is imported here, not at module level: every tiermon command loads
    this module, and only reconcile talks to the network.
    """

    def __init__(self, key: str, url: str, *, timeout: float = TIMEOUT_SECONDS,
                 transport: httpx2.BaseTransport | None = None) -> None:  # fmt: skip
        import httpx2

        self._key = key
        self.url = url
        headers = {"x-api-key": key, "anthropic-version": API_VERSION, "accept": "application/json"}
        self._http = httpx2.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> AdminApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def pages(self, path: str, params: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """Every page of a report, following `has_more`/`next_page` through the `page` parameter."""
        page: str | None = None
        for _ in range(MAX_PAGES):
            body = self._get(path, params + ([("page", page)] if page else []))
            yield body
            page = body.get("next_page") if body.get("has_more") else None
            if not isinstance(page, str) or not page:
                return
        raise ReconcileError(f"{path} kept reporting more pages after {MAX_PAGES}; giving up")

    def _get(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        import httpx2

        try:
            response = self._http.get(path, params=tuple(params))
        except httpx2.TimeoutException as exc:
            raise ReconcileError(f"the Admin API at {self.url} did not answer in time") from exc
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            raise ReconcileError(f"cannot reach the Admin API at {self.url}: {self._scrub(exc)}") from exc
        if response.status_code in (401, 403):
            raise ReconcileError(
                f"the Admin API refused the key (HTTP {response.status_code}): "
                f"check that {ADMIN_KEY_ENV} holds a valid Admin key (sk-ant-admin…)"
            )
        if not response.is_success:
            detail = self._error_detail(response)
            raise ReconcileError(f"the Admin API answered HTTP {response.status_code} for {path}{detail}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ReconcileError(f"the Admin API answered {path} with something that is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise ReconcileError(f"the Admin API answered {path} in an unexpected shape")
        return body

    def _error_detail(self, response: httpx2.Response) -> str:
        """The API's own error message, if it sent one, without the key."""
        try:
            error = response.json().get("error") or {}
            message = str(error.get("message") or "")
        except (ValueError, AttributeError):
            return ""
        return f": {self._scrub(message)[:200]}" if message else ""

    def _scrub(self, value: object) -> str:
        text = " ".join(str(value).split())
        return text.replace(self._key, "[admin key]") if self._key else text


def _range_params(since: date, until: date) -> list[tuple[str, str]]:
    """Whole UTC days, `until` included."""
    return [
        ("starting_at", f"{since.isoformat()}T00:00:00Z"),
        ("ending_at", f"{(until + timedelta(days=1)).isoformat()}T00:00:00Z"),
        ("bucket_width", "1d"),
        ("limit", str(PAGE_LIMIT)),
    ]


def fetch_theirs(api: AdminApi, since: date, until: date) -> dict[Key, Figures]:
    """Tokens from the usage report and costs from the cost report, per day and model."""
    out: dict[Key, Figures] = {}
    params = _range_params(since, until)
    for body in api.pages(USAGE_PATH, [*params, ("group_by[]", "model")]):
        for day, result in _results(body):
            _add_usage(out.setdefault((day, _model(result)), Figures()), result)
    for body in api.pages(COST_PATH, [*params, ("group_by[]", "description")]):
        for day, result in _results(body):
            _add_cost(out.setdefault((day, _model(result)), Figures()), result)
    return {k: v for k, v in out.items() if since <= k[0] <= until}


def _results(body: dict[str, Any]) -> Iterator[tuple[date, dict[str, Any]]]:
    for bucket in body.get("data") or ():
        if not isinstance(bucket, dict):
            continue
        day = _bucket_day(bucket.get("starting_at"))
        for result in bucket.get("results") or ():
            if day is not None and isinstance(result, dict):
                yield day, result


def _bucket_day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _model(result: dict[str, Any]) -> str:
    model = result.get("model")
    return model_base(model) if isinstance(model, str) and model else NO_MODEL


def _add_usage(fig: Figures, result: dict[str, Any]) -> None:
    cache = result.get("cache_creation")
    cache = cache if isinstance(cache, dict) else {}
    tools = result.get("server_tool_use")
    tools = tools if isinstance(tools, dict) else {}
    fig.input_tokens += _int(result.get("uncached_input_tokens"))
    fig.output_tokens += _int(result.get("output_tokens"))
    fig.cache_read_tokens += _int(result.get("cache_read_input_tokens"))
    fig.cache_write_5m_tokens += _int(cache.get("ephemeral_5m_input_tokens"))
    fig.cache_write_1h_tokens += _int(cache.get("ephemeral_1h_input_tokens"))
    fig.web_search_requests += _int(tools.get("web_search_requests"))


def _add_cost(fig: Figures, result: dict[str, Any]) -> None:
    """`amount` is a decimal string in cents; token charges and the rest are kept apart."""
    amount = str(result.get("amount") or "0")
    try:
        dollars = float(Decimal(amount) / 100)
    except InvalidOperation as exc:
        raise ReconcileError(f"the cost report holds an amount that is not a number: {amount[:40]!r}") from exc
    if result.get("cost_type") in (None, "tokens"):
        fig.cost_usd = (fig.cost_usd or 0.0) + dollars
    else:
        fig.other_cost_usd += dollars


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- ours: the store ---------------------------------------------------------------


def fetch_ours(store: Store, since: date, until: date) -> dict[Key, Figures]:
    """API-log responses per UTC day and model; a day with unpriced rows has no cost."""
    sums = ", ".join(f"sum({c})::BIGINT" for c in (*TOKEN_CLASSES, "web_search_requests"))
    rows = store.query(
        f"""SELECT CAST(ts AS DATE), model_base, count(*), {sums}, sum(cost_usd), bool_and(priced)
            FROM responses
            WHERE source_kind = 'api' AND ts >= ? AND ts < ?
            GROUP BY ALL""",
        [_midnight(since), _midnight(until + timedelta(days=1))],
    )
    out: dict[Key, Figures] = {}
    for day, model, requests, inp, out_t, read, w5, w1h, web, cost, priced in rows:
        out[(day, model)] = Figures(
            input_tokens=inp, output_tokens=out_t, cache_read_tokens=read, cache_write_5m_tokens=w5,
            cache_write_1h_tokens=w1h, web_search_requests=web,
            cost_usd=float(cost or 0.0) if priced else None, requests=requests,
        )  # fmt: skip
    return out


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


# -- comparing ---------------------------------------------------------------------


def compare(ours: dict[Key, Figures], theirs: dict[Key, Figures], tolerance: Tolerance) -> list[Row]:
    """One row per day and model seen on either side, in day then model order."""
    rows = []
    for key in sorted(set(ours) | set(theirs)):
        mine, billed = ours.get(key), theirs.get(key)
        if mine is None:
            rows.append(Row(key[0], key[1], None, billed, "missing-here"))
        elif billed is None:
            rows.append(Row(key[0], key[1], mine, None, "missing-there"))
        else:
            reasons = differences(mine, billed, tolerance)
            rows.append(Row(key[0], key[1], mine, billed, "mismatch" if reasons else "match", reasons))
    return rows


def differences(ours: Figures, theirs: Figures, tolerance: Tolerance) -> list[str]:
    """What disagrees beyond the tolerance: an unpriced model can never be called a match."""
    out: list[str] = []
    if ours.cost_usd is None:
        out.append("unpriced here")
    elif not tolerance.cost_ok(ours.cost_usd, theirs.cost_usd or 0.0):
        out.append("cost")
    out += [c for c in TOKEN_CLASSES if not tolerance.tokens_ok(getattr(ours, c), getattr(theirs, c))]
    return out


def reconcile(
    store: Store, theirs: dict[Key, Figures], since: date, until: date, tolerance: Tolerance
) -> Report:
    """The report over a range, given what the Admin API said (fetched before the store is opened)."""
    return Report(since, until, tolerance, compare(fetch_ours(store, since, until), theirs, tolerance))
