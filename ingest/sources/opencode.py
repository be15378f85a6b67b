"""OpenCode sessions (`$XDG_DATA_HOME/opencode`) -> source rows: JSON storage (≤ 1.1) and `opencode.db` (≥ 1.2).

Counting rules (formats/opencode.md §3), one usage record per model request:
- every `step-finish` part is one request (one AI SDK step), keyed by its part
  id; `message.tokens` holds only the last step, so it is used only for a
  finished assistant message without any step-finish part and non-zero tokens
  (keyed by the message id);
- `input` is already non-cached; `cache.read`/`cache.write` are the cache
  classes; reasoning is added to output only when `total` says it is additive
  (`total == input + output + reasoning + cache`), or, without `total`, for
  providers other than openai/azure/github-copilot;
- JSON files and database rows of one message share their ids, so the copies
  1.2.x wrote to both places (or a migrated store) key to the same rows and
  the store keeps one.
Vendor: `local` for local servers (`ollama`, `lmstudio`, `llama.cpp`, …) and
`name:tag` ids, the provider for first-party providers, else by model family.

How the files are read: every JSON file is a whole-file format; a part file
reads its message file for the model and session. The SQLite store is a
whole-file format too, but its parse ignores the bytes the tailer hands it
and opens the path read-only (`mode=ro`, never writing or checkpointing the
user's database); its `-wal` file is listed as well, since in WAL mode new
rows change only that file until a checkpoint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec

from tiermon.ingest.models import model_base, tier_of, vendor_of
from tiermon.ingest.rows import (
    PROMPT_LIMIT,
    SUMMARY_LIMIT,
    TEXT_TAIL_LIMIT,
    TOOL_ASK,
    TOOL_READ,
    TOOL_SHELL,
    Batch,
    Format,
    SourceFile,
)
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.common import (
    LOCAL_PROVIDERS,
    LOCAL_VENDOR,
    LineProblem,
    is_local_model,
    obj_of,
    summarise,
    text_of,
    token,
    ts_from_ms,
)
from tiermon.ingest.walk import absolute, walk

SOURCE_KIND = "opencode"
AGENT = "opencode"

REASONING_IN_OUTPUT = frozenset({"openai", "azure", "github-copilot"})
"""Providers whose `output` already holds reasoning (completion tokens), when `total` cannot tell."""
FIRST_PARTY = {"anthropic": "anthropic", "openai": "openai", "google": "google", "google-vertex": "google",
               "mistral": "mistral", "xai": "xai", "deepseek": "deepseek", "alibaba": "alibaba"}  # fmt: skip
"""Provider ids that are the model's own vendor; aggregators (openrouter, opencode, …) go by model family."""
HOSTED = frozenset({*FIRST_PARTY, "openrouter", "amazon-bedrock", "azure", "github-copilot", "opencode", "vercel",
                    "groq", "togetherai", "fireworks-ai", "deepinfra", "cerebras", "zai", "moonshotai"})  # fmt: skip
"""Hosted providers: a `name:tag` model id behind one of these is not a local model."""
TOOL_NAMES = {"bash": TOOL_SHELL, "read": TOOL_READ, "task": "Task", "question": TOOL_ASK}
"""OpenCode's tool names that have a canonical name in the contract."""
ABORTED = "MessageAbortedError"
"""An assistant error that is the user pressing Esc: an interrupt, not an API error."""
DB_TIMEOUT_S = 2.0
"""How long a read waits for a writer's lock before the file is quarantined (and re-read when it changes)."""

_DECODER = msgspec.json.Decoder()
Json = dict[str, Any]


@dataclass
class _Message:
    """One message with its ids (columns in the database, fields in JSON) and where it was read."""

    data: Json
    id: str
    session_id: str
    path: str
    offset: int = 0
    child: bool = False
    """Its session is a subagent (task tool) child session: its user messages are not human prompts."""
    version: str | None = None

    @property
    def role(self) -> str | None:
        return text_of(self.data.get("role"))

    @property
    def ts(self) -> datetime | None:
        time = self.data.get("time")
        return ts_from_ms(time.get("created")) if isinstance(time, dict) else None

    @property
    def provider(self) -> str:
        model = self.data.get("model")
        nested = model.get("providerID") if isinstance(model, dict) else None
        return text_of(self.data.get("providerID")) or text_of(nested) or ""

    @property
    def model(self) -> str:
        model = self.data.get("model")
        nested = (model.get("modelID") or model.get("id")) if isinstance(model, dict) else None
        return text_of(self.data.get("modelID")) or text_of(nested) or "unknown"


@dataclass
class _Rows:
    """Rows of one read; a part or message that cannot be used is quarantined without its rows."""

    batch: Batch = field(default_factory=Batch)

    def response(self, msg: _Message, key: str, tokens: Json, offset: int, stop: str | None) -> None:
        inp, cache_read, cache_write, out, reasoning = _buckets(tokens, msg.provider)
        model, path = msg.model, msg.data.get("path")
        project = (text_of(path.get("cwd")) or text_of(path.get("root"))) if isinstance(path, dict) else None
        self.batch.add_response({
            "k": key, "source_kind": SOURCE_KIND, "session_id": msg.session_id, "agent_id": None,
            "is_sidechain": False, "ts": msg.ts, "model": model, "model_base": model_base(model),
            "tier": tier_of(model), "input_tokens": inp, "output_tokens": out, "cache_read_tokens": cache_read,
            "cache_write_5m_tokens": cache_write, "cache_write_1h_tokens": 0, "web_search_requests": 0,
            "speed": None, "inference_geo": None, "service_tier": None, "is_batch": False, "stop_reason": stop,
            "project": project, "git_branch": None, "version": msg.version, "request_id": None,
            "message_id": msg.id, "uuid": key, "parent_uuid": text_of(msg.data.get("parentID")),
            "file_path": msg.path, "line_offset": offset, "agent": AGENT, "vendor": vendor(msg.provider, model),
            "reasoning_tokens": reasoning,
        })  # fmt: skip

    def event(self, msg: _Message, key: str, kind: str, offset: int, ts: datetime | None = None, **fields: Any) -> None:
        row = {
            "k": key, "session_id": msg.session_id, "agent_id": None, "is_sidechain": False, "ts": ts or msg.ts,
            "uuid": key, "parent_uuid": msg.id, "kind": kind, "message_id": msg.id, "file_path": msg.path,
            "line_offset": offset, "agent": AGENT,
        }  # fmt: skip
        row.update(fields)
        self.batch.add_event(row)


def vendor(provider: str, model: str) -> str:
    """`local` for local servers and name:tag ids; the provider when it makes the model; else the model's family."""
    if provider.lower() in LOCAL_PROVIDERS or (provider not in HOSTED and is_local_model(model)):
        return LOCAL_VENDOR
    return FIRST_PARTY.get(provider) or vendor_of(model, default=provider)


def _buckets(tokens: Json, provider: str) -> tuple[int, int, int, int, int]:
    """(input, cache_read, cache_write, output, reasoning) of a step's or message's `tokens` (§2.1)."""
    inp = token(tokens.get("input"), "tokens.input")
    out = token(tokens.get("output"), "tokens.output")
    reasoning = token(tokens.get("reasoning"), "tokens.reasoning")
    cache = obj_of(tokens.get("cache"))
    read = token(cache.get("read"), "tokens.cache.read")
    write = token(cache.get("write"), "tokens.cache.write")
    total = tokens.get("total")
    if total is not None and reasoning:
        additive = token(total, "tokens.total") == inp + out + reasoning + read + write
    else:
        additive = provider not in REASONING_IN_OUTPUT
    return inp, read, write, out + (reasoning if additive else 0), reasoning


# -- one message, one part ---------------------------------------------------------


def _message_rows(msg: _Message, rows: _Rows, *, prev_user_model: str | None, has_steps: bool) -> None:
    """Rows a message makes by itself: a model request by the user, an error, the last-step fallback."""
    data = msg.data
    if msg.role == "user":
        model = f"{msg.provider}/{msg.model}" if msg.provider else msg.model
        if prev_user_model is not None and model != prev_user_model and not msg.child:
            rows.event(msg, f"{msg.id}:model", "command", msg.offset, name="/model", text=clean_text(model))
        return
    if msg.role != "assistant":
        return
    tokens = data.get("tokens")
    finished = bool(obj_of(data.get("time")).get("completed"))
    # steps carry the usage; an unfinished message may still get its steps; zeros are an aborted placeholder
    fallback = not has_steps and finished and isinstance(tokens, dict) and any(_buckets(tokens, msg.provider)[:4])
    error = data.get("error")
    if isinstance(error, dict):
        _error_event(msg, error, rows)
    if fallback and isinstance(tokens, dict):
        rows.response(msg, msg.id, tokens, msg.offset, text_of(data.get("finish")))


def _error_event(msg: _Message, error: Json, rows: _Rows) -> None:
    name = text_of(error.get("name")) or "UnknownError"
    detail = obj_of(error.get("data"))
    text = clean_text(str(detail.get("message") or name))[:SUMMARY_LIMIT]
    if name == ABORTED:
        rows.event(msg, f"{msg.id}:error", "interrupt", msg.offset, text=text)
        return
    status = detail.get("statusCode")
    rows.event(msg, f"{msg.id}:error", "api_error", msg.offset, subtype=name, text=text, is_error=True,
               name=str(status) if isinstance(status, int) else None, model=msg.model)  # fmt: skip


def _part_rows(part: Json, part_id: str, msg: _Message, offset: int, rows: _Rows) -> None:
    """Rows of one part: a step's usage, a tool call and its result, a prompt, text, a compaction."""
    ptype = part.get("type")
    if ptype == "step-finish":
        tokens = part.get("tokens")
        if not isinstance(tokens, dict):
            raise LineProblem("step-finish part without a tokens object")
        rows.response(msg, part_id, tokens, offset, text_of(part.get("reason")))
    elif ptype == "tool":
        _tool_rows(part, part_id, msg, offset, rows)
    elif ptype == "text":
        _text_rows(part, part_id, msg, offset, rows)
    elif ptype == "compaction":
        trigger = "auto" if part.get("auto") else "manual"
        rows.event(msg, part_id, "system", offset, subtype="compact_boundary", trigger=trigger)
    elif ptype == "retry":
        error = obj_of(part.get("error"))
        name = text_of(error.get("name")) or "retry"
        detail = obj_of(error.get("data"))
        text = clean_text(str(detail.get("message") or name))[:SUMMARY_LIMIT]
        rows.event(msg, part_id, "api_error", offset, subtype=name, text=text, is_error=True, model=msg.model)


def _text_rows(part: Json, part_id: str, msg: _Message, offset: int, rows: _Rows) -> None:
    text = text_of(part.get("text"))
    if text is None or part.get("synthetic") or part.get("ignored"):
        return
    if msg.role == "user" and not msg.child:
        rows.event(msg, part_id, "prompt", offset, text=clean_text(text)[:PROMPT_LIMIT])
    elif msg.role == "assistant":
        rows.event(msg, part_id, "text", offset, text=clean_text(text)[-TEXT_TAIL_LIMIT:], model=msg.model)


def _tool_rows(part: Json, part_id: str, msg: _Message, offset: int, rows: _Rows) -> None:
    raw_name = text_of(part.get("tool")) or "unknown"
    name = TOOL_NAMES.get(raw_name, raw_name)
    state = obj_of(part.get("state"))
    args = obj_of(state.get("input"))
    times = obj_of(state.get("time"))
    call_id = text_of(part.get("callID")) or part_id
    subtype = text_of(args.get("subagent_type")) if name == "Task" else None
    rows.event(msg, f"{part_id}:use", "tool_use", offset, ts_from_ms(times.get("start")), name=name,
               tool_use_id=call_id, text=summarise(args), subtype=subtype)  # fmt: skip
    status = state.get("status")
    if status in ("completed", "error"):
        error = clean_text(str(state.get("error") or "error"))[:SUMMARY_LIMIT] if status == "error" else None
        rows.event(msg, f"{part_id}:result", "tool_result", offset, ts_from_ms(times.get("end")),
                   tool_use_id=call_id, is_error=status == "error", text=error)  # fmt: skip


def _safely(batch: Batch, offset: int, raw: bytes, emit: Any, *args: Any) -> None:
    """Run one message's or part's rows into `batch`; quarantine it when a value is unusable.

    Every emitter checks its token values before it adds a row, so a bad one adds nothing.
    """
    try:
        emit(*args, _Rows(batch))
    except LineProblem as exc:
        batch.quarantine_line(offset, raw, str(exc))


# -- JSON storage (≤ 1.1) ----------------------------------------------------------


def _decode_object(buf: bytes | bytearray, batch: Batch) -> Json | None:
    """The file's JSON object, or None after quarantining the file."""
    try:
        data = _DECODER.decode(buf)
    except msgspec.DecodeError as exc:
        batch.quarantine_line(0, buf, f"invalid JSON: {exc}")
        return None
    if not isinstance(data, dict):
        batch.quarantine_line(0, buf, "not a JSON object")
        return None
    return data


def _read_json(path: Path) -> Json | None:
    try:
        data = _DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return data if isinstance(data, dict) else None


def _storage(path: Path) -> Path:
    """`…/storage` of a `storage/<kind>/<dir>/<id>.json` file (the file's own folder when it lies shallower)."""
    return path.parents[2] if len(path.parents) > 2 else path.parent


def _is_child(storage: Path, session_id: str) -> bool:
    """Whether a session is a task tool's child session (its info file has `parentID`)."""
    for info in (storage / "session").glob(f"*/{session_id}.json"):
        data = _read_json(info)
        return bool(data and data.get("parentID"))
    return False


def _json_message(data: Json, path: Path, storage: Path) -> _Message | None:
    mid, sid = text_of(data.get("id")), text_of(data.get("sessionID"))
    if mid is None or sid is None:
        return None
    return _Message(data, mid, sid, str(path), child=_is_child(storage, sid))


def parse_message_file(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """`storage/message/<sessionID>/<messageID>.json`: the rows the message makes by itself."""
    del base_offset, state  # read whole every time it changes
    batch = Batch(lines=1)
    data = _decode_object(buf, batch)
    if data is None:
        return batch
    file = Path(path)
    storage = _storage(file)
    msg = _json_message(data, file, storage)
    if msg is None:
        batch.quarantine_line(0, buf, "message without id or sessionID")
        return batch
    batch.entry_types[(f"message/{msg.role}", "", msg.role in ("user", "assistant"))] += 1
    prev = _previous_user_model(file, msg) if msg.role == "user" else None
    has_steps = msg.role == "assistant" and _has_steps(storage / "part" / msg.id)
    _safely(batch, 0, bytes(buf), _message_rows_args, msg, prev, has_steps)
    return batch


def _message_rows_args(msg: _Message, prev: str | None, has_steps: bool, rows: _Rows) -> None:
    _message_rows(msg, rows, prev_user_model=prev, has_steps=has_steps)


def _previous_user_model(file: Path, msg: _Message) -> str | None:
    """The model the session's previous user message asked for (ids sort by time), if any."""
    try:
        names = sorted(p.name for p in file.parent.iterdir() if p.suffix == ".json" and p.name < file.name)
    except OSError:
        return None
    for name in reversed(names):
        data = _read_json(file.parent / name)
        if data is None or data.get("role") != "user":
            continue
        prev = _Message(data, name[:-5], msg.session_id, str(file))
        return f"{prev.provider}/{prev.model}" if prev.provider else prev.model
    return None


def _has_steps(part_dir: Path) -> bool:
    """Whether a message has any step-finish part (then its own tokens are never counted).

    Part ids sort by time and a message's last part is usually its last step-finish: newest first,
    the first file read mostly answers.
    """
    try:
        files = sorted(part_dir.glob("*.json"), reverse=True)
    except OSError:
        return False
    return any((data := _read_json(p)) is not None and data.get("type") == "step-finish" for p in files)


def parse_part_file(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """`storage/part/<messageID>/<partID>.json`: the part's rows, with its message read for model and session."""
    del base_offset, state  # read whole every time it changes
    batch = Batch(lines=1)
    part = _decode_object(buf, batch)
    if part is None:
        return batch
    ptype = text_of(part.get("type")) or "<none>"
    batch.entry_types[(f"part/{ptype}", "", True)] += 1
    if ptype not in ("step-finish", "tool", "text", "compaction", "retry"):
        return batch
    file = Path(path)
    storage = _storage(file)
    mid = text_of(part.get("messageID")) or file.parent.name
    sid = text_of(part.get("sessionID"))
    candidates = [storage / "message" / sid / f"{mid}.json"] if sid else []
    candidates += list((storage / "message").glob(f"*/{mid}.json"))
    data = next((d for d in map(_read_json, candidates) if d is not None), None)
    msg = _json_message(data, file, storage) if data is not None else None
    if msg is None:
        batch.quarantine_line(0, buf, f"its message {mid} was not found or is unreadable")
        return batch
    msg.path = str(file)  # rows point at the part file they came from
    part_id = text_of(part.get("id")) or file.stem
    _safely(batch, 0, bytes(buf), _part_rows, part, part_id, msg, 0)
    return batch


def parse_session_file(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """`storage/session/<projectID>/<sessionID>.json`: a child session's link to its parent, as agent metadata."""
    del base_offset, path, state
    batch = Batch(lines=1)
    data = _decode_object(buf, batch)
    if data is not None:
        _session_meta(data.get("id"), data.get("parentID"), data.get("title"), batch)
    return batch


def _session_meta(session_id: object, parent_id: object, title: object, batch: Batch) -> None:
    """A child session (task tool) is its own session; agent_meta records which session spawned it."""
    sid, parent = text_of(session_id), text_of(parent_id)
    if sid and parent:
        description = text_of(title)
        batch.agent_meta.append((sid, parent, "opencode-subagent",
                                 clean_text(description)[:SUMMARY_LIMIT] if description else None, None))  # fmt: skip


# -- SQLite (≥ 1.2) ----------------------------------------------------------------


def parse_database(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """`opencode.db` (or its `-wal`): every session's rows, read from the database opened read-only.

    The bytes the tailer hands over are ignored: SQLite must read the file
    itself (and its WAL). A file that is not a database, or is locked or
    torn, is quarantined whole and read again when it changes.
    """
    del base_offset, state
    db = Path(path.removesuffix("-wal"))
    batch = Batch()
    try:
        with _connect(db) as con:
            _read_database(con, str(db), batch)
    except sqlite3.Error as exc:
        batch.quarantine.append((0, len(buf), f"cannot read OpenCode database: {exc}", ""))
    return batch


class _Closing:
    """sqlite3's context manager commits; this one closes (the connection is read-only)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _connect(db: Path) -> _Closing:
    uri = f"file:{quote(str(db))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=DB_TIMEOUT_S, check_same_thread=False)
    return _Closing(con)


def _read_database(con: sqlite3.Connection, path: str, batch: Batch) -> None:
    tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"message", "part"} <= tables:
        known = ", ".join(sorted(tables)[:8]) or "none"
        batch.quarantine.append((0, 0, f"no message/part tables (an unknown OpenCode schema; tables: {known})", ""))
        return
    sessions = _db_sessions(con, batch) if "session" in tables else {}
    parts = _db_parts(con)
    prev_user: dict[str, str] = {}
    query = "SELECT rowid, id, session_id, data FROM message ORDER BY session_id, time_created, id"
    for rowid, mid, sid, raw in con.execute(query):
        batch.lines += 1
        data = _db_json(raw)
        if data is None or not isinstance(mid, str) or not isinstance(sid, str):
            batch.quarantine_line(rowid, _raw_bytes(raw), "message row whose data is not a JSON object")
            continue
        parent, version = sessions.get(sid, (None, None))
        msg = _Message(data, mid, sid, path, rowid, child=parent is not None, version=version)
        role = msg.role or "<none>"
        batch.entry_types[(f"message/{role}", version or "", role in ("user", "assistant"))] += 1
        own = parts.pop(mid, [])
        has_steps = any(p.get("type") == "step-finish" for _, _, p, _ in own)
        _safely(batch, rowid, _raw_bytes(raw), _message_rows_args, msg, prev_user.get(sid), has_steps)
        if msg.role == "user":
            prev_user[sid] = f"{msg.provider}/{msg.model}" if msg.provider else msg.model
        _db_part_rows(own, msg, batch)


def _db_part_rows(own: list[tuple[int, str, Json, bytes]], msg: _Message, batch: Batch) -> None:
    for prow, pid, pdata, praw in own:
        ptype = text_of(pdata.get("type")) or "<none>"
        batch.lines += 1
        batch.entry_types[(f"part/{ptype}", msg.version or "", True)] += 1
        _safely(batch, prow, praw, _part_rows, pdata, pid, msg, prow)


def _db_sessions(con: sqlite3.Connection, batch: Batch) -> dict[str, tuple[str | None, str | None]]:
    """Session id -> (parent session id, OpenCode version); child sessions also become agent_meta."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(session)")}
    pick = [c if c in columns else "NULL" for c in ("id", "parent_id", "version", "title")]
    out: dict[str, tuple[str | None, str | None]] = {}
    for sid, parent, version, title in con.execute(f"SELECT {', '.join(pick)} FROM session"):
        if isinstance(sid, str):
            out[sid] = (text_of(parent), text_of(version))
            _session_meta(sid, parent, title, batch)
    return out


def _db_parts(con: sqlite3.Connection) -> dict[str, list[tuple[int, str, Json, bytes]]]:
    """Message id -> its parts (rowid, id, data, raw) in id order (ids sort by time)."""
    parts: dict[str, list[tuple[int, str, Json, bytes]]] = {}
    for rowid, pid, mid, raw in con.execute("SELECT rowid, id, message_id, data FROM part ORDER BY message_id, id"):
        data = _db_json(raw)
        if data is not None and isinstance(pid, str) and isinstance(mid, str):
            parts.setdefault(mid, []).append((rowid, pid, data, _raw_bytes(raw)))
    return parts


def _db_json(raw: object) -> Json | None:
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        data = _DECODER.decode(raw)
    except msgspec.DecodeError:
        return None
    return data if isinstance(data, dict) else None


def _raw_bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw[:400]
    return str(raw)[:400].encode("utf-8", "replace")


# -- the source --------------------------------------------------------------------

DATABASE = Format("opencode-db", parse_database, whole_file=True)
MESSAGE = Format("opencode-message", parse_message_file, whole_file=True)
PART = Format("opencode-part", parse_part_file, whole_file=True)
SESSION = Format("opencode-session", parse_session_file, whole_file=True)
_STORAGE_FORMATS = {"message": MESSAGE, "part": PART, "session": SESSION}


class OpenCode:
    """OpenCode's data dir: `opencode*.db` (+ `-wal`) and `storage/{session,message,part}/*/*.json`."""

    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "OpenCode"
    formats: tuple[Format, ...] = (DATABASE, MESSAGE, PART, SESSION)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """Every OPENCODE_DATA_DIR entry (comma list, as peers accept), else $XDG_DATA_HOME/opencode."""
        configured = [p.strip() for p in env.get("OPENCODE_DATA_DIR", "").split(",") if p.strip()]
        if not configured:
            home = Path(env.get("HOME") or Path.home())
            configured = [str(Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "opencode")]
        roots: list[Path] = []
        for cand in configured:
            root = absolute(Path(cand))
            if root.is_dir() and root not in roots:
                roots.append(root)
        return roots

    def root_for(self, path: Path) -> Path:
        """The data dir: `path` itself, or the parent of a `storage/` folder named directly."""
        return path.parent if path.name == "storage" and path.is_dir() else path

    def files(self, root: Path) -> Iterator[SourceFile]:
        """Database files at the top, then JSON storage; never the snapshot/ git store or logs."""
        if root.is_file():
            yield from self._database_files([root])
            return
        try:
            top = sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink())
        except OSError:
            return
        yield from self._database_files(top)
        for folder, fmt in _STORAGE_FORMATS.items():
            for entry in walk(root / "storage" / folder):
                if entry.name.endswith(".json"):
                    yield SourceFile(entry.path, SOURCE_KIND, fmt.name)

    @staticmethod
    def _database_files(paths: Iterable[Path]) -> Iterator[SourceFile]:
        for path in paths:
            name = path.name
            if name.startswith("opencode") and (name.endswith(".db") or name.endswith(".db-wal")):
                yield SourceFile(path, SOURCE_KIND, DATABASE.name)


SOURCE = OpenCode()
