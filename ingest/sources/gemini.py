"""Gemini CLI chat recordings -> rows of the source contract (SPEC §2.4, formats/gemini.md).

Two formats live in `~/.gemini/tmp/<slug or project hash>/chats/`: the legacy
`session-*.json` document (≤ 0.38, rewritten whole on every change) and the
`session-*.jsonl` event log (≥ 0.39, append-only). Counting rules (note §3):

- a request is a `gemini` message whose `tokens` is an object, keyed
  `gemini:<sessionId>:<message id>`: the JSONL re-writes of one id, the copies
  in `$set.messages` checkpoints and the legacy→JSONL migration copy are one row;
- `tokens.input` includes `cached`: input = input − cached + tool (tool-use
  prompt tokens bill as input), cache read = cached, no cache writes,
  output = output + thoughts, reasoning = thoughts;
- all-zero tokens are still a request (usage missing); `tokens: null` is not;
- `$rewindTo` removes turns from the conversation, not from the bill: the rows
  stay and a `system`/`rewind` event says how many billed requests it hid;
- `$set.messages` checkpoints never add or remove a request or a prompt.

Project: the `.project_root` the CLI writes beside `chats/` (an absolute
path), else the slug or hash folder name, else the record's `projectHash`.
Subagent runs (`chats/<parent sessionId>/<id>.jsonl`, `kind: "subagent"`)
become sidechain rows of the parent session with their own id as `agent_id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of, vendor_of
from tiermon.ingest.rows import (
    PROMPT_LIMIT,
    SUMMARY_LIMIT,
    TEXT_TAIL_LIMIT,
    TOOL_READ,
    TOOL_SHELL,
    Batch,
    Format,
    SourceFile,
)
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.times import naive_utc
from tiermon.ingest.walk import absolute, walk

SOURCE_KIND = "gemini"
AGENT = "gemini-cli"
VENDOR = "google"
UNKNOWN_MODEL = "unknown"
"""A reply the CLI wrote without `model` (an empty reply after a tool response): the model is not recorded."""

KNOWN_TYPES = frozenset({"meta", "user", "gemini", "info", "warning", "error", "$set", "$rewindTo"})
INJECTED_PROMPTS = ("System: Please continue.", "Please continue.", "System: Potential loop detected")
"""User records the CLI writes itself (retry, next-speaker check, loop recovery): never human prompts."""
STATE_SNAPSHOT = "<state_snapshot>"
TOKEN_FIELDS = ("input", "output", "cached", "thoughts", "tool")
MAX_TOKENS = 2**53
SHELL_TOOLS = frozenset({"run_shell_command"})
READ_TOOLS = frozenset({"read_file", "read_many_files"})
_ARG_KEYS = ("command", "file_path", "absolute_path", "path", "dir_path", "pattern", "query", "url", "objective")
_OLD_COMPRESSION = re.compile(r"compressed from: (\d+) to (\d+) tokens")
_DECODER = msgspec.json.Decoder()

Json = dict[str, Any]


class LineProblem(ValueError):
    """Why a record cannot be used; the message is the quarantine reason."""


class FileState(msgspec.Struct):
    """What one chat file's reading remembers between passes; stored with the file's mark."""

    session_id: str | None = None
    kind: str | None = None
    project_hash: str | None = None
    start: str | None = None
    last_ts: str | None = None
    """The latest record time, for lines that carry none (`$rewindTo`)."""
    order: list[str] = []
    """Message ids of the conversation in order: what a `$rewindTo` cuts."""
    billed: list[str] = []
    """Ids of the messages that were requests (with tokens)."""
    last_prompt: int | None = None
    """Prompt size (input + tool) of the latest request: a compaction's `pre_tokens`."""


class _Ctx:
    """What every row of one file shares."""

    __slots__ = ("agent_id", "is_sidechain", "own_id", "path", "project", "session_id")

    def __init__(self, path: str, state: FileState) -> None:
        self.path = path
        self.own_id = state.session_id or Path(path).stem
        parent = _parent_session(path) if state.kind == "subagent" else None
        self.is_sidechain = state.kind == "subagent"
        self.session_id = parent or self.own_id
        self.agent_id = self.own_id if self.is_sidechain else None
        self.project = _project(path, state.project_hash)


class _Out:
    """Rows of one parse: responses through the batch (one per key), events first-copy-wins like the store."""

    def __init__(self, batch: Batch, ctx: _Ctx, state: FileState) -> None:
        self.batch, self.ctx = batch, ctx
        self.events: dict[str, tuple[Any, ...]] = {}
        self.in_order = set(state.order)
        """Sets beside the state's lists: a long session's records are looked up in constant time."""
        self.billed = set(state.billed)

    def event(self, key: str, ts: datetime | None, offset: int, kind: str, **fields: Any) -> None:
        k = f"gemini:{self.ctx.own_id}:{key}"
        if k in self.events:
            return
        c = self.ctx
        self.events[k] = (
            k, c.session_id, c.agent_id, c.is_sidechain, ts, fields.get("uuid"), None, kind, fields.get("subtype"),
            fields.get("name"), fields.get("tool_use_id"), fields.get("text"), fields.get("is_error"),
            fields.get("model"), fields.get("ref_agent_id"), fields.get("pre_tokens"), fields.get("trigger"),
            fields.get("message_id"), c.path, offset, AGENT,
        )  # fmt: skip

    def finish(self) -> Batch:
        self.batch.add_event_tuples(list(self.events.values()))
        return self.batch


# -- the JSONL event log -----------------------------------------------------------


def parse_jsonl(buf: bytes | bytearray, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse complete lines of a `session-*.jsonl` event log starting at byte `base_offset`."""
    batch = Batch()
    out = _Out(batch, _Ctx(path, state), state)
    offset = base_offset
    for line in buf.split(b"\n"):
        where = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        batch.lines += 1
        try:
            obj = _DECODER.decode(line)
            if not isinstance(obj, dict):
                raise LineProblem("not a JSON object")
            if _is_metadata(obj):
                _metadata(obj, state, batch)
                out.ctx = _Ctx(path, state)  # the session id or kind names every later row
                continue
            _jsonl_record(obj, where, state, out)
        except msgspec.DecodeError as exc:
            batch.quarantine_line(where, line, f"invalid JSON: {exc}")
        except LineProblem as exc:
            batch.quarantine_line(where, line, str(exc))
    return out.finish()


def _is_metadata(obj: Json) -> bool:
    return "id" not in obj and "sessionId" in obj and "$set" not in obj and "$rewindTo" not in obj


def _metadata(obj: Json, state: FileState, batch: Batch) -> None:
    """The first line (or a legacy document's head): session id, kind, project hash, start time."""
    batch.entry_types[("meta", "", True)] += 1
    if state.session_id is None:
        state.session_id = _str(obj.get("sessionId"))
    state.kind = _str(obj.get("kind")) or state.kind
    state.project_hash = state.project_hash or _str(obj.get("projectHash"))
    state.start = state.start or _str(obj.get("startTime"))


def _jsonl_record(obj: Json, offset: int, state: FileState, out: _Out) -> None:
    if "$rewindTo" in obj:
        out.batch.entry_types[("$rewindTo", "", True)] += 1
        _rewind(obj["$rewindTo"], offset, state, out)
    elif "$set" in obj:
        out.batch.entry_types[("$set", "", True)] += 1  # metadata and checkpoints: never a request
    elif "id" in obj:
        _message(obj, offset, state, out)
    else:
        out.batch.entry_types[("<none>", "", False)] += 1


def _rewind(target: object, offset: int, state: FileState, out: _Out) -> None:
    """`/rewind`: the target and what follows leave the conversation; their usage was billed and stays."""
    if not isinstance(target, str) or target not in out.in_order:
        return
    cut = state.order.index(target)
    hidden = sum(1 for msg_id in state.order[cut:] if msg_id in out.billed)
    out.in_order.difference_update(state.order[cut:])
    del state.order[cut:]
    text = f"rewound: {hidden} billed request(s) left the conversation"
    out.event(f"rewind:{offset}", _ts(None, state), offset, "system", subtype="rewind", text=text, message_id=target)


# -- the legacy JSON document ------------------------------------------------------


def parse_legacy(buf: bytes | bytearray, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse a whole `session-*.json` ConversationRecord; its rows are keyed so a re-read adds nothing."""
    batch = Batch()
    try:
        doc = _DECODER.decode(buf)
    except msgspec.DecodeError as exc:
        batch.quarantine_line(base_offset, buf, f"invalid JSON: {exc}")
        return batch
    messages = doc.get("messages") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(messages, list):
        batch.quarantine_line(base_offset, buf, "not a Gemini CLI conversation record")
        return batch
    batch.lines = 1 + len(messages)
    _metadata(doc, state, batch)
    out = _Out(batch, _Ctx(path, state), state)
    for index, msg in enumerate(messages, 1):
        try:
            if not isinstance(msg, dict):
                raise LineProblem("message is not a JSON object")
            _message(msg, index, state, out)
        except LineProblem as exc:
            batch.quarantine_line(index, msgspec.json.encode(msg), str(exc))
    return out.finish()


# -- message records ---------------------------------------------------------------


def _message(rec: Json, offset: int, state: FileState, out: _Out) -> None:
    """One MessageRecord (or a re-write of one): its request, prompt, tool calls or notice."""
    msg_id = _str(rec.get("id"))
    if msg_id is None:
        raise LineProblem("message without a string id")
    mtype = rec.get("type")
    mtype = mtype if isinstance(mtype, str) else "<none>"
    out.batch.entry_types[(mtype, "", mtype in KNOWN_TYPES)] += 1
    tokens = _tokens(rec.get("tokens")) if mtype == "gemini" else None  # validate before any row
    ts = _ts(rec.get("timestamp"), state)
    if msg_id not in out.in_order:
        out.in_order.add(msg_id)
        state.order.append(msg_id)
    if mtype == "gemini":
        _reply(rec, msg_id, tokens, ts, offset, state, out)
    elif mtype == "user":
        _user(rec, msg_id, ts, offset, state, out)
    elif mtype == "info":
        _info(_text(rec.get("content")), msg_id, ts, offset, state, out)
    elif mtype == "error":
        text = clean_text(_text(rec.get("content"))[: SUMMARY_LIMIT * 2])[:SUMMARY_LIMIT] or None
        out.event(f"{msg_id}:error", ts, offset, "api_error", subtype="error", text=text, is_error=True,
                  uuid=msg_id, message_id=msg_id)  # fmt: skip


def _tokens(value: object) -> tuple[int, ...] | None:
    """(input, output, cached, thoughts, tool) or None when the record is not a request."""
    if not isinstance(value, dict):
        return None
    counts = []
    for name in TOKEN_FIELDS:
        n = value.get(name, 0)
        if n is None:
            n = 0
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < MAX_TOKENS:
            raise LineProblem(f"tokens.{name} is not a non-negative integer below 2**53: {str(n)[:40]}")
        counts.append(n)
    return tuple(counts)


def _reply(
    rec: Json, msg_id: str, tokens: tuple[int, ...] | None, ts: datetime | None, offset: int, state: FileState,
    out: _Out,
) -> None:  # fmt: skip
    """A model reply: its usage row (when it has tokens), its text tail and its tool calls."""
    if tokens is not None:
        out.batch.add_response(_response_row(rec, msg_id, tokens, ts, offset, out.ctx))
        if msg_id not in out.billed:
            out.billed.add(msg_id)
            state.billed.append(msg_id)
        if tokens[0] or tokens[4]:
            state.last_prompt = tokens[0] + tokens[4]
    text = _text(rec.get("content"))
    if text.strip():
        tail = clean_text(text[-TEXT_TAIL_LIMIT * 2 :])[-TEXT_TAIL_LIMIT:]  # bound the work on huge replies
        out.event(f"{msg_id}:text", ts, offset, "text", text=tail, uuid=msg_id, message_id=msg_id)
    calls = rec.get("toolCalls")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        if isinstance(call, dict):
            _tool_call(call, index, msg_id, ts, offset, out)


def _response_row(
    rec: Json, msg_id: str, tokens: tuple[int, ...], ts: datetime | None, offset: int, ctx: _Ctx
) -> Json:
    inp, out, cached, thoughts, tool = tokens
    model = _str(rec.get("model")) or UNKNOWN_MODEL
    return {
        "k": f"gemini:{ctx.own_id}:{msg_id}", "source_kind": SOURCE_KIND, "session_id": ctx.session_id,
        "agent_id": ctx.agent_id, "is_sidechain": ctx.is_sidechain, "ts": ts, "model": model,
        "model_base": model_base(model), "tier": tier_of(model), "input_tokens": max(inp - cached + tool, 0),
        "output_tokens": out + thoughts, "cache_read_tokens": cached, "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0, "web_search_requests": 0, "speed": None, "inference_geo": None,
        "service_tier": None, "is_batch": False, "stop_reason": None, "project": ctx.project, "git_branch": None,
        "version": None, "request_id": None, "message_id": msg_id, "uuid": msg_id, "parent_uuid": None,
        "file_path": ctx.path, "line_offset": offset, "agent": AGENT, "vendor": vendor_of(model, VENDOR),
        "reasoning_tokens": thoughts,
    }  # fmt: skip


def _tool_call(call: Json, index: int, msg_id: str, ts: datetime | None, offset: int, out: _Out) -> None:
    """A `toolCalls[]` entry: its tool_use and, once it has a final status, its tool_result."""
    raw_name = _str(call.get("name")) or "unknown"
    args = call.get("args")
    name, summary = _tool_name_and_summary(raw_name, args if isinstance(args, dict) else {})
    call_id = _str(call.get("id")) or f"{msg_id}:{index}"
    out.event(f"{msg_id}:tool:{index}", ts, offset, "tool_use", name=name, tool_use_id=call_id, text=summary,
              uuid=msg_id, message_id=msg_id)  # fmt: skip
    status = _str(call.get("status"))
    if status not in ("success", "error", "cancelled"):
        return  # still running when written: the re-write after the tools ran carries the result
    is_error = status == "error"
    text = _error_text(call) if is_error else None
    stamp = call.get("timestamp")
    done = (naive_utc(stamp) if isinstance(stamp, str) else None) or ts  # when the tool finished, else the reply
    out.event(f"{msg_id}:tool:{index}:result", done, offset, "tool_result", subtype=status, tool_use_id=call_id,
              is_error=is_error, text=text, ref_agent_id=_str(call.get("agentId")), uuid=msg_id,
              message_id=msg_id)  # fmt: skip


def _tool_name_and_summary(name: str, args: Json) -> tuple[str, str | None]:
    """The canonical name (TOOL_SHELL, TOOL_READ) where there is one, and a short input summary."""
    if name in SHELL_TOOLS:
        command = args.get("command")
        return TOOL_SHELL, clean_text(" ".join(command.split()))[:SUMMARY_LIMIT] if isinstance(command, str) else None
    if name in READ_TOOLS:
        paths = args.get("paths")
        if isinstance(paths, list) and paths:
            return TOOL_READ, clean_text(", ".join(str(p) for p in paths))[:SUMMARY_LIMIT]
        return TOOL_READ, _arg_summary(args)
    return name, _arg_summary(args)


def _arg_summary(args: Json) -> str | None:
    for key in _ARG_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return clean_text(value)[:SUMMARY_LIMIT]
    return None


def _error_text(call: Json) -> str | None:
    """The start of a failed tool's output: its display text, else its function response."""
    display = call.get("resultDisplay")
    if isinstance(display, str) and display:
        return clean_text(display[: SUMMARY_LIMIT * 2])[:SUMMARY_LIMIT]
    result = call.get("result")
    for part in result if isinstance(result, list) else ():
        response = part.get("functionResponse", {}).get("response") if isinstance(part, dict) else None
        if isinstance(response, dict):
            value = response.get("error") or response.get("output")
            if isinstance(value, str) and value:
                return clean_text(value[: SUMMARY_LIMIT * 2])[:SUMMARY_LIMIT]
    return None


def _user(rec: Json, msg_id: str, ts: datetime | None, offset: int, state: FileState, out: _Out) -> None:
    """A human prompt, unless it is a tool response, an injected nudge, a snapshot or a subagent's brief."""
    content = rec.get("content")
    if isinstance(content, list) and any(isinstance(p, dict) and "functionResponse" in p for p in content):
        return
    text = _text(content)
    if not text.strip() or state.kind == "subagent":
        return
    if text.startswith(INJECTED_PROMPTS) or text.lstrip().startswith(STATE_SNAPSHOT):
        return
    prompt = clean_text(text[: PROMPT_LIMIT * 2])[:PROMPT_LIMIT]  # a pasted file is never cleaned whole
    out.event(f"{msg_id}:prompt", ts, offset, "prompt", text=prompt, uuid=msg_id, message_id=msg_id)


def _info(text: str, msg_id: str, ts: datetime | None, offset: int, state: FileState, out: _Out) -> None:
    """CLI notices that matter: fallback, /model, compression, a cancelled request."""
    key = f"{msg_id}:info"
    common: Json = {"uuid": msg_id, "message_id": msg_id}
    if text.startswith("Switched to fallback model"):
        model = text.removeprefix("Switched to fallback model").strip().rstrip(".") or None
        out.event(key, ts, offset, "system", subtype="model_fallback", model=model, text=clean_text(text), **common)
    elif text.startswith("Model set to"):
        model = text.removeprefix("Model set to").strip().rstrip(".")
        out.event(key, ts, offset, "command", name="/model", text=clean_text(model) or None, **common)
    elif text.startswith("Context compressed from"):
        out.event(key, ts, offset, "system", subtype="compact_boundary", trigger="auto",
                  pre_tokens=state.last_prompt, text=clean_text(text), **common)  # fmt: skip
    elif "exceeded the compress threshold" in text:
        match = _OLD_COMPRESSION.search(text)
        before = int(match.group(1)) if match else state.last_prompt
        out.event(key, ts, offset, "system", subtype="compact_boundary", trigger="auto", pre_tokens=before,
                  text=clean_text(text)[:SUMMARY_LIMIT], **common)  # fmt: skip
    elif not text.strip():
        out.event(key, ts, offset, "system", subtype="compact_boundary", trigger="manual",
                  pre_tokens=state.last_prompt, **common)  # fmt: skip
    elif text.startswith("Request cancelled"):
        out.event(key, ts, offset, "interrupt", text=clean_text(text)[:SUMMARY_LIMIT], **common)


# -- fields ------------------------------------------------------------------------


def _text(content: object) -> str:
    """The visible text of a `content`: a string, or a Part list's text parts without thoughts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p for p in content if isinstance(p, dict) and not p.get("thought"))
        return "".join(text for p in parts if isinstance(text := p.get("text"), str))
    return ""


def _ts(value: object, state: FileState) -> datetime | None:
    """A record's time; else the latest time seen in the file, else the session start."""
    if isinstance(value, str) and (moment := naive_utc(value)) is not None:
        state.last_ts = value
        return moment
    return naive_utc(state.last_ts or state.start)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _chats_dir(path: Path) -> Path | None:
    """The `chats/` folder a session file (or a subagent's `chats/<parent>/` file) lives in."""
    for folder in (path.parent, path.parent.parent):
        if folder.name == "chats":
            return folder
    return None


def _parent_session(path: str) -> str | None:
    """A subagent file's parent session: the folder it sits in below `chats/`."""
    folder = Path(path).parent
    return folder.name if folder.name != "chats" and folder.parent.name == "chats" else None


def _project(path: str, project_hash: str | None) -> str | None:
    """`.project_root` beside `chats/`, else the slug or hash folder name, else the recorded hash."""
    chats = _chats_dir(Path(path))
    if chats is None:
        return project_hash
    try:
        root = (chats.parent / ".project_root").read_bytes()[:4096].decode("utf-8", "replace").strip()
    except OSError:
        root = ""
    return clean_text(root) or chats.parent.name or project_hash


# -- the source --------------------------------------------------------------------

JSONL = Format("gemini-jsonl", parse_jsonl, FileState)
LEGACY = Format("gemini-json", parse_legacy, FileState, whole_file=True)


def format_for(path: Path) -> Format | None:
    """The format of a chat file: `session-*.json[l]` anywhere, or any `.json[l]` in a `chats/` tree."""
    name = path.name
    fmt = JSONL if name.endswith(".jsonl") else LEGACY if name.endswith(".json") else None
    if fmt is not None and (name.startswith("session-") or _chats_dir(path) is not None):
        return fmt
    return None


class GeminiCli:
    """Gemini CLI's chat recordings below `~/.gemini/tmp/`."""

    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "Gemini CLI"
    formats: tuple[Format, ...] = (JSONL, LEGACY)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """`GEMINI_DATA_DIR` (a comma list of tmp/ roots), else `$GEMINI_CLI_HOME/.gemini/tmp` or `~/.gemini/tmp`."""
        configured = [p.strip() for p in env.get("GEMINI_DATA_DIR", "").split(",") if p.strip()]
        if configured:
            candidates = [absolute(Path(p)) for p in configured]
        else:
            home = Path(env.get("GEMINI_CLI_HOME") or env.get("HOME") or Path.home())
            candidates = [absolute(home / ".gemini" / "tmp")]
        roots: list[Path] = []
        for cand in candidates:
            if cand.is_dir() and cand not in roots:
                roots.append(cand)
        return roots

    def root_for(self, path: Path) -> Path:
        """A `.gemini` home's `tmp/`, a home folder's `.gemini/tmp/`, else the folder itself."""
        for cand in (path / "tmp", path / ".gemini" / "tmp"):
            if cand.is_dir():
                return cand
        return path

    def files(self, root: Path) -> Iterator[SourceFile]:
        if root.is_file():
            named = format_for(root) or (JSONL if root.name.endswith(".jsonl") else LEGACY)
            yield SourceFile(root, SOURCE_KIND, named.name)
            return
        for entry in walk(root):
            path = Path(entry.path)
            fmt = format_for(path)
            if fmt is not None:
                yield SourceFile(path, SOURCE_KIND, fmt.name)


SOURCE = GeminiCli()
