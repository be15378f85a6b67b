"""Provides the team sink: redacted rows pushed to PostgreSQL and the team's reports read back.

A team shares spend through a PostgreSQL server it already runs (SPEC §9).
Each tiermon pushes, under its configured user and machine, one row per API
response holding figures only (tokens, cost, model, tier, time, ids, the
project's folder name, the git branch) and the figures of its signals. No
prompt, response, tool or message text ever leaves the machine: rows are
built from an allow-list of columns, never from the events table.

The server keeps one row per response key with the local store's rule (the
copy with the most output tokens, then the main-chain copy), so pushes may
repeat, overlap and run from many machines at once. What was sent is
remembered locally in `team_pushed` (key -> digest of the row as sent),
scoped to the server's sink id, the user and the machine, so a push sends
only rows that are new or changed since — including a response the local
store later replaced with a larger copy.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time as clock, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from tiermon import __version__
from tiermon.ingest.reports import (
    BLOCK_HOURS,
    PERIODS,
    TOKEN_FIELDS,
    ReportError,
    ReportFilter,
    attach_models,
    finish_block,
    model_row,
    tidy_row,
)
from tiermon.ingest.store import Store, StoreError
from tiermon.ingest.times import naive_utc

if TYPE_CHECKING:
    import psycopg

    from tiermon.ingest.config import Settings

SCHEMA = "tiermon"
"""The PostgreSQL schema tiermon owns on the team server."""
TEAM_SCHEMA_VERSION = 1
"""Bumped whenever MIGRATIONS gains a step."""
PUSH_FORMAT = "1"
"""Part of every row digest: changing what a row holds re-sends every row once."""
BATCH_ROWS = 20_000
"""Rows per server transaction: short enough that concurrent pushers wait little."""
CONNECT_TIMEOUT = 10
RETRIES = 5
"""Attempts per batch when the server reports a deadlock or serialization failure."""
_LOCK_ID = 0x74696572_6D6F6E
"""pg_advisory_xact_lock key that serialises migrations of concurrent first pushes."""
LOCAL_TABLE = "team_pushed"

NO_URL = "no team database configured: set TIERMON_TEAM_URL or `url` under [team] in config.toml"

TEAM_KINDS = ("daily", "weekly", "monthly", "session", "model", "blocks")
_KIND_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}


class TeamError(Exception):
    """A team-sink problem the user can act on; the message is one line with no password in it."""


# -- the server schema --------------------------------------------------------------

RESPONSE_COLUMNS: dict[str, str] = {
    "k": "TEXT",  # message_id ':' request_id, as in the local store
    "user_name": "TEXT",
    "machine": "TEXT",
    "source_kind": "TEXT",
    "session_id": "TEXT",
    "agent_id": "TEXT",
    "agent_type": "TEXT",  # the local agents table's type, NULL on the main chain
    "is_sidechain": "BOOLEAN",
    "ts": "TIMESTAMP",  # naive UTC
    "model": "TEXT",
    "tier": "TEXT",
    **{name: "BIGINT" for name in TOKEN_FIELDS},
    "cost_usd": "DOUBLE PRECISION",
    "priced": "BOOLEAN",
    "project": "TEXT",  # the last part of the project's path only
    "git_branch": "TEXT",
}
"""One row per response; what a push sends, in this order."""

SIGNAL_COLUMNS: dict[str, str] = {
    "k": "TEXT",  # md5 of the signal's identity
    "user_name": "TEXT",
    "machine": "TEXT",
    "signal": "TEXT",  # alert | advice | switch
    "session_id": "TEXT",
    "kind": "TEXT",
    "severity": "TEXT",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "turn": "INTEGER",
    "agent_id": "TEXT",
    "from_tier": "TEXT",
    "to_tier": "TEXT",
    "cost_usd": "DOUBLE PRECISION",
    "counterfactual_cost_usd": "DOUBLE PRECISION",
    "figures": "JSONB",  # numbers and short labels only
}
"""Alerts, advice and model switches, reduced to their kind and figures."""


def _create(table: str, columns: dict[str, str], key: str) -> str:
    cols = ",\n  ".join(f"{name} {ddl}" for name, ddl in columns.items())
    return f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (
  {cols},
  pushed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ({key})
)"""


def _v1() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key TEXT PRIMARY KEY, value TEXT)",
        _create("responses", RESPONSE_COLUMNS, "k"),
        f"CREATE INDEX IF NOT EXISTS responses_ts ON {SCHEMA}.responses (ts)",
        f"CREATE INDEX IF NOT EXISTS responses_session ON {SCHEMA}.responses (session_id)",
        _create("signals", SIGNAL_COLUMNS, "k"),
        f"CREATE INDEX IF NOT EXISTS signals_start ON {SCHEMA}.signals (start_ts)",
        f"CREATE INDEX IF NOT EXISTS signals_session ON {SCHEMA}.signals (session_id)",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.members (
  user_name TEXT, machine TEXT, last_push TIMESTAMPTZ, pushed_responses BIGINT, pushed_signals BIGINT,
  tiermon_version TEXT, PRIMARY KEY (user_name, machine))""",
    ]


MIGRATIONS: dict[int, list[str]] = {1: _v1()}
"""Schema version -> statements that bring the server from version-1 to it."""

_RESPONSE_UPDATE_WHEN = """
WHERE excluded.output_tokens > t.output_tokens
   OR (excluded.output_tokens = t.output_tokens AND t.is_sidechain AND NOT excluded.is_sidechain)
   OR (excluded.output_tokens = t.output_tokens AND excluded.is_sidechain IS NOT DISTINCT FROM t.is_sidechain
       AND (excluded.cost_usd, excluded.priced, excluded.tier) IS DISTINCT FROM (t.cost_usd, t.priced, t.tier))"""
"""SPEC §3 across machines: keep the larger output, then the main-chain copy; a re-priced copy replaces its twin."""


# -- connection and errors ----------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: what messages may show."""
    masked = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", r"\1***", url)
    scheme, sep, rest = masked.partition("://")
    if not sep:
        return masked
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return masked
    return f"{scheme}://{rest[:at].split(':', 1)[0]}:***{rest[at:]}"


def _password(url: str) -> str | None:
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return None
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.Error:  # an unparsable URL is reported where it is used; here we only scrub
        return None
    return str(value) if value else None


def _scrub(message: str, url: str) -> str:
    """One line of a server or driver message, without the password even if the driver echoed it."""
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    secret = _password(url)
    if secret:
        line = line.replace(secret, "***")
    return line


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise TeamError("the team sink needs psycopg: pip install 'tiermon[team]'") from exc
    return psycopg


def _connect(url: str | None) -> psycopg.Connection[Any]:
    if not url:
        raise TeamError(NO_URL)
    pg = _psycopg()
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except pg.Error as exc:
        raise TeamError(f"team database URL {mask_url(url)} is not valid: {_scrub(str(exc), url)}") from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", "tiermon")
    try:
        con: psycopg.Connection[Any] = pg.connect(autocommit=True, **params)
    except pg.Error as exc:
        raise TeamError(f"cannot reach the team database {mask_url(url)}: {_scrub(str(exc), url)}") from None
    return con


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """Driver and server errors become one-line TeamErrors naming the masked URL."""
    psycopg = _psycopg()
    errors = psycopg.errors
    try:
        yield
    except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction) as exc:
        raise TeamError(f"the team database {mask_url(url)} refused: {_scrub(str(exc), url)}") from None
    except psycopg.OperationalError as exc:
        raise TeamError(f"lost the team database {mask_url(url)}: {_scrub(str(exc), url)}") from None
    except psycopg.Error as exc:
        raise TeamError(f"team database {mask_url(url)}: {_scrub(str(exc), url)}") from None


# -- the sink -----------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """What one push did."""

    url: str
    """The team URL, password masked."""
    user: str
    machine: str
    responses_sent: int
    responses_stored: int
    """Rows the server inserted or replaced (fewer than sent when another machine had a better copy)."""
    signals_sent: int
    signals_available: bool
    """False when this tiermon has no signals engine: responses only."""


class TeamSink:
    """One connection to the team database; use `TeamSink.open`."""

    def __init__(self, con: psycopg.Connection[Any], url: str) -> None:
        self.con = con
        self.url = url
        self.sink_id = ""

    @classmethod
    @contextmanager
    def open(cls, url: str | None) -> Iterator[TeamSink]:
        """Connect (one clear line when that fails), yield, close."""
        con = _connect(url)
        assert url is not None
        try:
            with _translated(url):
                yield cls(con, url)
        finally:
            with suppress(Exception):
                con.close()

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    # -- schema ------------------------------------------------------------------

    def schema_version(self) -> int | None:
        row = self.con.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.meta"]).fetchone()
        if not row or not row[0]:
            return None
        value = self._meta("schema_version")
        return int(value) if value else None

    def _meta(self, key: str) -> str | None:
        row = self.con.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", [key]).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute(
            f"""INSERT INTO {SCHEMA}.meta VALUES (%s, %s)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            [key, value],
        )

    def ready_to_read(self) -> None:
        """Check that tiermon's schema is there and this tiermon understands it."""
        version = self.schema_version()
        if version is None:
            raise TeamError(
                f"no tiermon data in the team database {self.masked_url} yet: run `tiermon team push` first"
            )
        self._check_not_newer(version)

    def ready_to_push(self) -> None:
        """Create or migrate the schema, then check that this role may write."""
        version = self.schema_version()
        if version is not None:
            self._check_not_newer(version)
        if version != TEAM_SCHEMA_VERSION:
            self._migrate()
        self._check_writable()
        self.sink_id = self._meta("sink_id") or ""

    def _check_not_newer(self, version: int) -> None:
        if version > TEAM_SCHEMA_VERSION:
            raise TeamError(
                f"the team database {self.masked_url} was set up by a newer tiermon (schema {version}); upgrade tiermon"
            )

    def _migrate(self) -> None:
        errors = _psycopg().errors
        try:
            with self.con.transaction():
                self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
                current = self.schema_version() or 0
                self._check_not_newer(current)
                if not self.con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA]).fetchone():
                    self.con.execute(f"CREATE SCHEMA {SCHEMA}")
                for version in range(current + 1, TEAM_SCHEMA_VERSION + 1):
                    for stmt in MIGRATIONS[version]:
                        self.con.execute(stmt)
                    self._set_meta("schema_version", str(version))
                if not self._meta("sink_id"):
                    self._set_meta("sink_id", uuid.uuid4().hex)
        except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction) as exc:
            raise TeamError(
                f"role {self._role()!r} may not create tiermon's tables in {self.masked_url} "
                f"({_scrub(str(exc), self.url)}): set the database up as the README says"
            ) from None

    def _role(self) -> str:
        row = self.con.execute("SELECT current_user").fetchone()
        return str(row[0]) if row else "?"

    def _check_writable(self) -> None:
        row = self.con.execute(
            """SELECT current_user, current_setting('transaction_read_only') = 'on',
                      bool_and(has_table_privilege(t, 'INSERT') AND has_table_privilege(t, 'UPDATE'))
               FROM unnest(%s::text[]) AS t""",
            [[f"{SCHEMA}.{name}" for name in ("responses", "signals", "members")]],
        ).fetchone()
        assert row is not None
        role, read_only, may_write = row
        if read_only or not may_write:
            raise TeamError(
                f"role {role!r} can read the team database but not write to it: `tiermon team push` needs a role "
                f"with INSERT and UPDATE on schema {SCHEMA} (a read-only role is for `tiermon team report`)"
            )

    # -- pushing -----------------------------------------------------------------

    def push(self, db_path: Path, user: str, machine: str) -> PushResult:
        """Send what is new or changed in the local store since the last push from here."""
        if not self.sink_id:
            self.ready_to_push()
        scope = hashlib.sha256(f"{self.sink_id}|{user}|{machine}".encode()).hexdigest()[:16]
        with Store.open(db_path, read_only=True) as store:
            responses = _changed_responses(store, f"{scope}:r:", user, machine)
            signals, available = _changed_signals(store, f"{scope}:s:", user, machine)
        done: list[tuple[str, pa.Table]] = []
        stored = 0
        try:
            for start in range(0, responses.num_rows, BATCH_ROWS):
                chunk = responses.slice(start, BATCH_ROWS)
                rows = zip(*(chunk.column(c).to_pylist() for c in RESPONSE_COLUMNS), strict=True)
                stored += self._upsert("responses", RESPONSE_COLUMNS, rows, _response_conflict())
                done.append((f"{scope}:r:", chunk.select(["k", "digest"])))
            for start in range(0, len(signals), BATCH_ROWS):
                part = signals[start : start + BATCH_ROWS]
                self._upsert("signals", SIGNAL_COLUMNS, (s.values() for s in part), _signal_conflict())
                done.append((f"{scope}:s:", _digest_table([(s.k, s.digest) for s in part])))
            self._record_member(user, machine, responses.num_rows, len(signals))
        except BaseException:
            with suppress(StoreError):
                _remember(db_path, done)
            raise
        _remember(db_path, done)
        return PushResult(self.masked_url, user, machine, responses.num_rows, stored, len(signals), available)

    def _upsert(self, table: str, columns: dict[str, str], rows: Any, conflict: str) -> int:
        """COPY rows into a temp table, then one keyed upsert in key order (no deadlock between pushers)."""
        errors = _psycopg().errors
        temp = f"tiermon_push_{table}"
        temp_cols = ", ".join(f"{c} {'TEXT' if ddl == 'JSONB' else ddl}" for c, ddl in columns.items())
        names = ", ".join(columns)
        select = ", ".join(f"{c}::jsonb" if ddl == "JSONB" else c for c, ddl in columns.items())
        rows = list(rows)
        for attempt in range(RETRIES):
            try:
                with self.con.transaction(), self.con.cursor() as cur:
                    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ({temp_cols}) ON COMMIT DELETE ROWS")
                    with cur.copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cur.execute(
                        f"""INSERT INTO {SCHEMA}.{table} AS t ({names})
                            SELECT {select} FROM {temp} ORDER BY k {conflict}"""
                    )
                    return max(cur.rowcount, 0)
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return 0

    def _record_member(self, user: str, machine: str, responses: int, signals: int) -> None:
        self.con.execute(
            f"""INSERT INTO {SCHEMA}.members VALUES (%s, %s, now(), %s, %s, %s)
                ON CONFLICT (user_name, machine) DO UPDATE SET last_push = now(),
                  pushed_responses = members.pushed_responses + excluded.pushed_responses,
                  pushed_signals = members.pushed_signals + excluded.pushed_signals,
                  tiermon_version = excluded.tiermon_version""",
            [user, machine, responses, signals, __version__],
        )

    # -- reading -----------------------------------------------------------------

    def query_dicts(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.con.cursor() as cur:
            cur.execute(sql, params or {})
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _response_conflict() -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in RESPONSE_COLUMNS if c != "k")
    return f"ON CONFLICT (k) DO UPDATE SET {sets}, pushed_at = now() {_RESPONSE_UPDATE_WHEN}"


def _signal_conflict() -> str:
    """A recomputed signal replaces its row; the same signal pushed from another machine changes nothing."""
    cols = [c for c in SIGNAL_COLUMNS if c != "k"]
    content = [c for c in cols if c not in ("user_name", "machine")]
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols)
    mine = ", ".join(f"t.{c}" for c in content)
    theirs = ", ".join(f"excluded.{c}" for c in content)
    return f"ON CONFLICT (k) DO UPDATE SET {sets}, pushed_at = now() WHERE ({mine}) IS DISTINCT FROM ({theirs})"


def push_settings(settings: Settings, *, refresh: bool = True) -> PushResult:
    """Connect, check the role may write, read what is new locally (`refresh`), push it.

    The connection comes first so that an unreachable or read-only server
    leaves the local store untouched.
    """
    with TeamSink.open(settings.team_url) as sink:
        sink.ready_to_push()
        if refresh:
            from tiermon.ingest.service import Ingestor

            Ingestor(settings).run()
        return sink.push(settings.db_path, settings.user, settings.machine)


# -- the local side of a push -------------------------------------------------------

_PROJECT_NAME = r"""CASE WHEN r.project IS NULL THEN NULL
  ELSE coalesce(nullif(regexp_extract(rtrim(r.project, '/\'), '[^/\\]+$'), ''), r.project) END"""
"""The last part of the project's path (SPEC §9: folder names travel, home paths do not)."""


def _has_local_table(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [LOCAL_TABLE]))


def _changed_responses(store: Store, prefix: str, user: str, machine: str) -> pa.Table:
    """Responses whose row as it would be sent differs from what was sent last (or never was), by key."""
    tokens = ", ".join(f"coalesce(r.{f}, 0)::BIGINT AS {f}" for f in TOKEN_FIELDS)
    digest = ", ".join(f"q.{c}::VARCHAR" for c in RESPONSE_COLUMNS)
    seen = f"LEFT JOIN {LOCAL_TABLE} p ON p.k = (? || d.k) WHERE p.digest IS DISTINCT FROM d.digest"
    params: list[Any] = [user, machine]
    if _has_local_table(store):
        params.append(prefix)
    else:
        seen = ""
    return store.con.sql(
        f"""WITH q AS (
              SELECT r.k, ?::VARCHAR AS user_name, ?::VARCHAR AS machine, r.source_kind, r.session_id,
                     r.agent_id, a.agent_type, r.is_sidechain, r.ts, r.model, r.tier, {tokens},
                     r.cost_usd, r.priced, {_PROJECT_NAME} AS project, r.git_branch
              FROM responses r LEFT JOIN agents a ON a.session_id = r.session_id AND a.agent_id = r.agent_id
            ), d AS (SELECT q.*, md5('{PUSH_FORMAT}' || list_value({digest})::VARCHAR) AS digest FROM q)
            SELECT d.* FROM d {seen} ORDER BY d.k""",
        params=params,
    ).to_arrow_table()


def _digest_table(pairs: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"k": [k for k, _ in pairs], "digest": [d for _, d in pairs]}, schema=_PAIR_SCHEMA)


_PAIR_SCHEMA = pa.schema([("k", pa.string()), ("digest", pa.string())])


def _remember(db_path: Path, done: list[tuple[str, pa.Table]]) -> None:
    """Record what the server now holds, in one short write to the local store."""
    if not done:
        return
    with Store.open(db_path) as store:
        store.con.execute(f"CREATE TABLE IF NOT EXISTS {LOCAL_TABLE} (k VARCHAR PRIMARY KEY, digest VARCHAR)")
        store.con.begin()
        try:
            for prefix, table in done:
                store.con.register("pushed_rows", table)
                store.con.execute(
                    f"INSERT OR REPLACE INTO {LOCAL_TABLE} SELECT ? || k, digest FROM pushed_rows", [prefix]
                )
                store.con.unregister("pushed_rows")
            store.con.commit()
        except BaseException:
            store.con.rollback()
            raise


# -- signals: kind and figures only -------------------------------------------------

_LABEL_KEYS = frozenset(
    {"model", "tier", "from_model", "to_model", "from_tier", "to_tier", "direction", "cause", "trigger",
     "agent_type", "severity", "chain"}
)  # fmt: skip
"""Short labels a signal may carry besides numbers; any other text is dropped."""
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\[\]-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}")
_FIGURE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_NOT_FIGURES = frozenset({"k", "start", "end", "at", "turn", *SIGNAL_COLUMNS})
"""Keys that become columns (or identity) rather than figures."""


@dataclass(frozen=True)
class SignalRow:
    """One redacted signal as sent: every value a number, a time, an id or a short label."""

    k: str
    digest: str
    row: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        return tuple(self.row[c] for c in SIGNAL_COLUMNS)


def _changed_signals(store: Store, prefix: str, user: str, machine: str) -> tuple[list[SignalRow], bool]:
    """Redacted alerts, advice and switches that differ from what was sent; False when there is no engine."""
    try:
        views = importlib.import_module("tiermon.ingest.signals.views")
    except ImportError:
        return [], False
    rows: list[SignalRow] = []
    try:
        for signal, raw in _signal_sources(store, views):
            redacted = redact_signal(signal, raw, user, machine)
            if redacted is not None:
                rows.append(redacted)
    except duckdb.Error:  # a store the signals engine has not set up yet: responses still go
        return [], False
    unique = {r.k: r for r in rows}
    sent: dict[str, str] = {}
    if _has_local_table(store):
        sent = dict(store.query(
            f"SELECT substr(k, {len(prefix) + 1}), digest FROM {LOCAL_TABLE} WHERE starts_with(k, ?)", [prefix]
        ))  # fmt: skip
    return [r for k, r in sorted(unique.items()) if sent.get(k) != r.digest], True


def _signal_sources(store: Store, views: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for signal, name in (("alert", "list_alerts"), ("advice", "list_advice")):
        lister = getattr(views, name, None)
        if lister is not None:
            for row in _call_lister(lister, store):
                yield signal, _as_dict(row)
    per_session = getattr(views, "session_switches", None)
    if per_session is not None:
        ids = [r[0] for r in store.query("SELECT DISTINCT session_id FROM responses WHERE session_id IS NOT NULL")]
        for sid, switches in per_session(store, ids).items():
            for row in switches:
                yield "switch", {"session_id": sid, "kind": "model_switch", **_as_dict(row)}


def _call_lister(lister: Callable[..., Any], store: Store) -> list[Any]:
    """Every row of a signals view: no filter, and no row limit where the view has one."""
    try:
        wanted = inspect.signature(lister).parameters
    except (TypeError, ValueError):
        wanted = {}  # type: ignore[assignment]
    kwargs: dict[str, Any] = {}
    if "limit" in wanted:
        kwargs["limit"] = 10_000_000
    rows = lister(store, **kwargs)
    if isinstance(rows, dict):
        rows = next((v for v in rows.values() if isinstance(v, list)), [])
    return list(rows)


def _as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    if hasattr(row, "_asdict"):
        return dict(row._asdict())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(row) and not isinstance(row, type):
        return asdict(row)
    return {}


def redact_signal(signal: str, raw: dict[str, Any], user: str, machine: str) -> SignalRow | None:
    """Keep a signal's kind, place and figures; drop every text (message, reason, detail, project, paths)."""
    session = _id(raw.get("session_id"))
    kind = _label(raw.get("kind"))
    if session is None or kind is None:
        return None
    start = naive_utc(raw.get("start", raw.get("at")))
    figures: dict[str, Any] = {}
    nested = raw.get("figures")
    nested = nested if isinstance(nested, dict) else {}
    for source, skip in ((nested, frozenset()), (raw, _NOT_FIGURES)):
        for key, value in source.items():
            if isinstance(key, str) and _FIGURE_NAME.fullmatch(key) and key not in skip:
                kept = _figure(key, value)
                if kept is not None:
                    figures.setdefault(key, kept)
    row: dict[str, Any] = {
        "user_name": user,
        "machine": machine,
        "signal": signal,
        "session_id": session,
        "kind": kind,
        "severity": _label(raw.get("severity")),
        "start_ts": start,
        "end_ts": naive_utc(raw.get("end")),
        "turn": raw.get("turn") if isinstance(raw.get("turn"), int) and not isinstance(raw.get("turn"), bool) else None,
        "agent_id": _id(raw.get("agent_id")),
        "from_tier": _label(raw.get("from_tier")),
        "to_tier": _label(raw.get("to_tier")),
        "cost_usd": _number(raw.get("cost_usd", nested.get("cost_usd"))),
        "counterfactual_cost_usd": _number(raw.get("counterfactual_cost_usd")),
    }
    identity = [signal, session, kind, row["agent_id"], start.isoformat() if start else None, row["turn"],
                hashlib.sha256(str(raw.get("k", "")).encode()).hexdigest()]  # fmt: skip
    k = hashlib.md5(json.dumps(identity).encode()).hexdigest()
    row = {"k": k, **row, "figures": json.dumps(figures, sort_keys=True)}
    digest = hashlib.md5(json.dumps([PUSH_FORMAT, row], sort_keys=True, default=str).encode()).hexdigest()
    return SignalRow(k, digest, row)


def _figure(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, datetime):
        return naive_utc(value).isoformat()  # type: ignore[union-attr]
    if key in _LABEL_KEYS:
        return _label(value)
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) and _LABEL.fullmatch(value) else None


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


# -- team reports: the local report functions' shapes, computed by the server ------

GROUPS: dict[str, str] = {
    "project": "coalesce(r.project, '')",
    "branch": "coalesce(r.git_branch, '')",
    "model": "r.model",
    "tier": "r.tier",
    "agent-type": "CASE WHEN NOT r.is_sidechain THEN 'main' ELSE coalesce(r.agent_type, 'subagent') END",
    "user": "r.user_name",
    "machine": "r.machine",
}
"""The local --by dimensions plus the person and the machine a row came from."""

_SUMS = ",\n".join(f"sum(r.{f})::BIGINT AS {f}" for f in TOKEN_FIELDS)
_AGGREGATES = f"""count(*) AS requests,
{_SUMS},
sum(r.cost_usd) AS cost_usd,
count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests"""
_FROM = f"FROM {SCHEMA}.responses r"
_LOCAL = "((r.ts AT TIME ZONE 'UTC') AT TIME ZONE %(tz)s)"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def team_where(f: ReportFilter) -> tuple[str, dict[str, Any]]:
    """ReportFilter.where() for PostgreSQL: named parameters, project matched on the folder name."""
    zone = f.zone()
    clauses: list[str] = []
    params: dict[str, Any] = {"tz": f.tz}
    if f.since:
        clauses.append("r.ts >= %(since)s")
        params["since"] = _utc(datetime.combine(f.since, clock.min, zone))
    if f.until:
        clauses.append("r.ts < %(until)s")
        params["until"] = _utc(datetime.combine(f.until + timedelta(days=1), clock.min, zone))
    for name, sql, value in (
        ("project", "r.project ILIKE %(project)s", f"%{f.project}%" if f.project else None),
        ("tier", "r.tier = %(tier)s", f.tier),
        ("source_kind", "r.source_kind = %(source_kind)s", f.source_kind),
        ("session", "r.session_id LIKE %(session)s", f"{f.session}%" if f.session else None),
    ):
        if value:
            clauses.append(sql)
            params[name] = value
    return (" AND ".join(clauses) or "TRUE"), params


def _group_sql(by: str | None) -> str:
    if by is None:
        return "NULL::text"
    try:
        return GROUPS[by]
    except KeyError as exc:
        raise ReportError(f"cannot group by {by!r} (choose from {', '.join(GROUPS)})") from exc


def period_rows(
    sink: TeamSink, f: ReportFilter, period: str = "day", by: str | None = None, breakdown: bool = False
) -> list[dict[str, Any]]:
    """reports.period_rows over the team."""
    where, params = team_where(f)
    bucket = f"date_trunc('{PERIODS[period]}', {_LOCAL})::date"
    group = _group_sql(by)
    rows = sink.query_dicts(
        f"""SELECT {bucket} AS period, {group} AS "group", {_AGGREGATES}
            {_FROM} WHERE {where} GROUP BY 1, 2 ORDER BY period, "group" NULLS FIRST""",
        params,
    )
    if breakdown:
        models = sink.query_dicts(
            f"""SELECT {bucket} AS period, {group} AS "group", r.model, min(r.tier) AS tier,
                       bool_and(r.priced) AS priced, {_AGGREGATES}
                {_FROM} WHERE {where} GROUP BY 1, 2, 3 ORDER BY cost_usd DESC NULLS LAST, r.model""",
            params,
        )
        attach_models(rows, models, ("period", "group"))
    out = []
    for r in rows:
        row = tidy_row(r, by)
        if breakdown:
            row["models"] = [model_row(m, None) for m in r.get("models", [])]
        out.append(row)
    return out


def model_rows(sink: TeamSink, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """reports.model_rows over the team."""
    where, params = team_where(f)
    rows = sink.query_dicts(
        f"""SELECT r.model, min(r.tier) AS tier, {_group_sql(by)} AS "group", {_AGGREGATES},
                   bool_and(r.priced) AS priced
            {_FROM} WHERE {where} GROUP BY r.model, 3 ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    return [model_row(r, by) for r in rows]


def session_rows(sink: TeamSink, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """reports.session_rows over the team, each session also naming its user and machine."""
    where, params = team_where(f)
    group = _group_sql(by)
    sessions = sink.query_dicts(
        f"""SELECT r.session_id, (array_agg(r.project ORDER BY r.ts ASC NULLS LAST))[1] AS project,
                   (array_agg(r.git_branch ORDER BY r.ts DESC NULLS LAST))[1] AS git_branch,
                   min(r.source_kind) AS source_kind, min(r.ts) AS start, max(r.ts) AS "end",
                   {group} AS "group", min(r.user_name) AS "user", min(r.machine) AS machine, {_AGGREGATES}
            {_FROM} WHERE {where} GROUP BY r.session_id, 7 ORDER BY start, r.session_id""",
        params,
    )
    models = sink.query_dicts(
        f"""SELECT r.session_id, {group} AS "group", r.model, min(r.tier) AS tier,
                   bool_and(r.priced) AS priced, {_AGGREGATES}
            {_FROM} WHERE {where} GROUP BY r.session_id, 2, r.model ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    attach_models(sessions, models, ("session_id", "group"))
    out = []
    for s in sessions:
        row = tidy_row(s, by)
        row["models"] = [model_row(m, None) for m in s.get("models", [])]
        out.append(row)
    return out


def totals(sink: TeamSink, f: ReportFilter) -> dict[str, Any]:
    """reports.totals over the team: unpriced models listed, never silently $0."""
    where, params = team_where(f)
    total = sink.query_dicts(f"SELECT {_AGGREGATES} {_FROM} WHERE {where}", params)[0]
    unpriced = sink.query_dicts(
        f"""SELECT r.model, count(*) AS requests, {_SUMS}
            {_FROM} WHERE {where} AND NOT r.priced GROUP BY r.model ORDER BY r.model""",
        params,
    )
    result: dict[str, Any] = tidy_row(total, None)
    result["unpriced_models"] = unpriced
    return result


def blocks(sink: TeamSink, f: ReportFilter, by: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """reports.blocks over the team; with `by`, blocks run per group (a block is one person's window)."""
    where, params = team_where(f)
    rows = sink.query_dicts(
        f"""SELECT {_group_sql(by)} AS "group", r.ts, r.model, r.cost_usd,
                   r.input_tokens + r.output_tokens + r.cache_read_tokens
                   + r.cache_write_5m_tokens + r.cache_write_1h_tokens AS tokens
            {_FROM} WHERE {where} AND r.ts IS NOT NULL ORDER BY 1 NULLS FIRST, r.ts""",
        params,
    )
    now = now or datetime.now(UTC).replace(tzinfo=None)
    length = timedelta(hours=BLOCK_HOURS)
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in rows:
        if current is None or r["group"] != current["group"] or r["ts"] >= current["end"]:
            start = r["ts"].replace(minute=0, second=0, microsecond=0)
            current = {"group": r["group"], "start": start, "end": start + length, "first": r["ts"], "last": r["ts"],
                       "requests": 0, "tokens": 0, "cost_usd": 0.0, "unpriced_requests": 0,
                       "models": set()}  # fmt: skip
            out.append(current)
        current["last"] = r["ts"]
        current["requests"] += 1
        current["tokens"] += r["tokens"] or 0
        current["models"].add(r["model"])
        if r["cost_usd"] is None:
            current["unpriced_requests"] += 1
        else:
            current["cost_usd"] += r["cost_usd"]
    result = []
    for block in out:
        row = finish_block(block, now)
        if by is not None:
            row["group"] = block["group"]
        result.append(row)
    return result


def _session_extras(sink: TeamSink, rows: list[dict[str, Any]]) -> None:
    """Subagents (from the pushed responses) and switches (from the pushed signals) per session."""
    ids = [r["session_id"] for r in rows]
    subagents: dict[str, list[dict[str, Any]]] = {}
    switches: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for a in sink.query_dicts(
            f"""SELECT r.session_id, r.agent_id, coalesce(min(r.agent_type), 'subagent') AS agent_type, r.model,
                       min(r.tier) AS tier, count(*) AS requests, sum(r.cost_usd) AS cost_usd
                {_FROM} WHERE r.session_id = ANY(%(ids)s) AND (r.is_sidechain OR r.agent_id IS NOT NULL)
                GROUP BY r.session_id, r.agent_id, r.model ORDER BY min(r.ts), r.agent_id, r.model""",
            {"ids": ids},
        ):
            sid = a.pop("session_id")
            a["cost_usd"] = round(a["cost_usd"], 6) if a["cost_usd"] is not None else None
            subagents.setdefault(sid, []).append(a)
        for s in sink.query_dicts(
            f"""SELECT session_id, start_ts AS at, figures->>'from_model' AS from_model,
                       figures->>'to_model' AS to_model, from_tier, to_tier,
                       figures->>'direction' AS direction, figures->>'cause' AS cause
                FROM {SCHEMA}.signals WHERE signal = 'switch' AND session_id = ANY(%(ids)s)
                ORDER BY start_ts""",
            {"ids": ids},
        ):
            switches.setdefault(s.pop("session_id"), []).append(s)
    for row in rows:
        row["subagents"] = subagents.get(row["session_id"], [])
        row["switches"] = switches.get(row["session_id"], [])


def build_report(sink: TeamSink, kind: str, f: ReportFilter, by: str | None, breakdown: bool) -> dict[str, Any]:
    """The team report in the shape of `tiermon report … --json` (SPEC §5)."""
    if kind in _KIND_PERIOD:
        return {kind: period_rows(sink, f, _KIND_PERIOD[kind], by, breakdown), "totals": totals(sink, f)}
    if kind == "session":
        rows = session_rows(sink, f, by)
        _session_extras(sink, rows)
        return {"sessions": rows, "totals": totals(sink, f)}
    if kind == "model":
        return {"models": model_rows(sink, f, by), "totals": totals(sink, f)}
    if kind == "blocks":
        return {"blocks": blocks(sink, f, by), "totals": totals(sink, f)}
    raise ReportError(f"unknown report {kind!r} (choose from {', '.join(TEAM_KINDS)})")


# -- the lead's overview (Team screen) ----------------------------------------------

TIERS = ("haiku", "sonnet", "opus", "other")


@dataclass(frozen=True)
class TeamOverview:
    """Everything the Team screen shows, fetched in one go."""

    this_week: date
    """Monday of the current week in the viewer's zone."""
    weekly: list[dict[str, Any]]
    """week, user, project, per-tier cost, cost_usd, requests, unpriced_requests, change_usd, change_pct."""
    people: list[dict[str, Any]]
    """user, this_week, last_week, change_usd, change_pct and this week's cost per tier."""
    alerts: list[dict[str, Any]]
    advice: list[dict[str, Any]]
    members: list[dict[str, Any]]


def _change(now: float | None, before: float | None) -> tuple[float | None, float | None]:
    if before is None:
        return None, None
    delta = (now or 0.0) - before
    return round(delta, 6), (delta / before if before else None)


def team_overview(sink: TeamSink, *, now: datetime, tz: str, weeks: int = 8, limit: int = 20) -> TeamOverview:
    """Per-tier spend per week per person and project, week-over-week change, top alerts and advice."""
    zone = ReportFilter(tz=tz).zone()
    local_now = now.astimezone(zone) if now.tzinfo else now.replace(tzinfo=UTC).astimezone(zone)
    monday = local_now.date() - timedelta(days=local_now.weekday())
    first = monday - timedelta(weeks=weeks)
    since = _utc(datetime.combine(first, clock.min, zone))
    tiers = ", ".join(f"coalesce(sum(r.cost_usd) FILTER (WHERE r.tier = '{t}'), 0) AS {t}" for t in TIERS)
    rows = sink.query_dicts(
        f"""SELECT date_trunc('week', {_LOCAL})::date AS week, r.user_name AS "user",
                   coalesce(r.project, '') AS project, {tiers}, coalesce(sum(r.cost_usd), 0) AS cost_usd,
                   count(*) AS requests, count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests
            {_FROM} WHERE r.ts >= %(since)s GROUP BY 1, 2, 3 ORDER BY week DESC, cost_usd DESC, 2, 3""",
        {"tz": tz, "since": since},
    )
    index = {(r["week"], r["user"], r["project"]): r for r in rows}
    weekly = []
    for r in rows:
        before = index.get((r["week"] - timedelta(weeks=1), r["user"], r["project"]))
        r["change_usd"], r["change_pct"] = _change(r["cost_usd"], before["cost_usd"] if before else 0.0)
        if r["week"] > first:
            weekly.append(r)
    return TeamOverview(monday, weekly, _people(rows, monday), _top_alerts(sink, since, limit),
                        _top_advice(sink, since, limit), _members(sink))  # fmt: skip


def _people(rows: list[dict[str, Any]], monday: date) -> list[dict[str, Any]]:
    last = monday - timedelta(weeks=1)
    people: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["week"] not in (monday, last):
            continue
        p = people.setdefault(r["user"], {"user": r["user"], "this_week": 0.0, "last_week": 0.0,
                                          **{t: 0.0 for t in TIERS}})  # fmt: skip
        if r["week"] == monday:
            p["this_week"] += r["cost_usd"]
            for t in TIERS:
                p[t] += r[t]
        else:
            p["last_week"] += r["cost_usd"]
    for p in people.values():
        p["change_usd"], p["change_pct"] = _change(p["this_week"], p["last_week"])
    return sorted(people.values(), key=lambda p: (-p["this_week"], p["user"]))


def _top_alerts(sink: TeamSink, since: datetime, limit: int) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT user_name AS "user", kind, count(*) AS alerts,
                   count(*) FILTER (WHERE severity = 'warn') AS warnings,
                   count(DISTINCT session_id) AS sessions, max(start_ts) AS last
            FROM {SCHEMA}.signals WHERE signal = 'alert' AND start_ts >= %(since)s
            GROUP BY 1, 2 ORDER BY warnings DESC, alerts DESC, 1, 2 LIMIT %(limit)s""",
        {"since": since, "limit": limit},
    )


def _top_advice(sink: TeamSink, since: datetime, limit: int) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT s.user_name AS "user",
                   (SELECT min(r.project) FROM {SCHEMA}.responses r WHERE r.session_id = s.session_id) AS project,
                   s.session_id, s.kind, s.from_tier, s.to_tier, s.turn, s.start_ts AS start, s.cost_usd,
                   s.counterfactual_cost_usd, s.cost_usd - s.counterfactual_cost_usd AS saving_usd
            FROM {SCHEMA}.signals s WHERE s.signal = 'advice' AND s.start_ts >= %(since)s
            ORDER BY abs(coalesce(s.cost_usd, 0) - coalesce(s.counterfactual_cost_usd, 0)) DESC, s.start_ts DESC
            LIMIT %(limit)s""",
        {"since": since, "limit": limit},
    )


def _members(sink: TeamSink) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT user_name AS "user", machine, last_push, pushed_responses, pushed_signals, tiermon_version
            FROM {SCHEMA}.members ORDER BY last_push DESC"""
    )


def fetch_overview(url: str | None, *, now: datetime, tz: str, weeks: int = 8) -> TeamOverview:
    """Connect, check the schema, read the overview: what the Team screen's worker calls."""
    with TeamSink.open(url) as sink:
        sink.ready_to_read()
        return team_overview(sink, now=now, tz=tz, weeks=weeks)
