"""Codex rollout lines -> rows of the source contract (`ingest/rows.py`); rules from formats/codex.md.

Counting (§4.1): usage is read only from `event_msg/token_count` (or, where a
file has them, `token_usage_record`), one record per model request. A
`token_count` whose (total, last) pair was seen before in the file, or whose
total equals the previous total, is a re-emission and adds nothing; a total
below the previous one is a stale snapshot (skipped) or a counter reset. The
usage is `last_token_usage`, else the growth of the total. Codex's
`input_tokens` includes `cached_input_tokens` and `output_tokens` includes
`reasoning_output_tokens`: rows store input − cached, cached as cache reads,
output as is and reasoning beside it. Fork and subagent files (§4.4) replay
their parent's lines first: that prefix seeds the counters and yields nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of, vendor_of
from tiermon.ingest.rows import PROMPT_LIMIT, RESPONSE_FIELDS, SUMMARY_LIMIT, TEXT_TAIL_LIMIT, Batch, better_copy
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.codex import tools
from tiermon.ingest.sources.codex.limits import depends_on_time, limit_readings
from tiermon.ingest.sources.codex.records import (
    LINE_DECODER,
    MAX_TOKENS,
    PAYLOAD_DECODER,
    Line,
    LineProblem,
    Payload,
    Usage,
    usage_of,
)
from tiermon.ingest.sources.codex.state import REPLAY_ENDED, REPLAY_OPEN, FileState, thread_id_from_name
from tiermon.ingest.sources.common import decode_all, line_starts, ts_from_iso

SOURCE_KIND = "codex"
AGENT = "codex"
VENDOR = "openai"
UNKNOWN_MODEL = "unknown"
"""The model of a request made before any `turn_context` said which: unpriced, never guessed."""
LOCAL_PROVIDERS = frozenset({"ollama", "lmstudio", "oss"})
"""`model_provider` values of models run locally: vendor `local`, cost 0."""
KNOWN_TYPES = frozenset({
    "session_meta", "turn_context", "response_item", "event_msg", "compacted", "token_usage_record",
    "world_state", "inter_agent_communication", "inter_agent_communication_metadata",
})  # fmt: skip
LEGACY_ITEMS = frozenset({"message", "reasoning", "function_call", "function_call_output", "local_shell_call"})
"""Bare ResponseItems of the pre-envelope format (Aug-Sep 2025)."""
REPLAY_WINDOW = timedelta(seconds=1)
_INJECTED_PREFIXES = ("<environment_context>", "<user_instructions>", "# AGENTS.md", "<permissions", "<")


class _Line:
    """Where one line is and what every row of it shares; its time is parsed only if a row needs it."""

    __slots__ = ("_ts", "offset", "path", "raw_ts", "replay")

    def __init__(self, path: str, offset: int, raw_ts: object) -> None:
        self.path, self.offset, self.raw_ts, self.replay = path, offset, raw_ts, False
        self._ts: datetime | bool | None = False

    @property
    def ts(self) -> datetime | None:
        if self._ts is False:
            self._ts = _ts(self.raw_ts)
        return self._ts  # type: ignore[return-value]  # never False once set


class _Rows:
    """What one buffer yields, gathered as tuples and turned into Batch columns once at the end:
    per-row column appends cost more than the JSON on a gigabyte of rollouts."""

    __slots__ = ("batch", "counted_info", "events", "read_limits", "responses")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.events: list[tuple[Any, ...]] = []
        self.responses: dict[str, tuple[Any, ...]] = {}
        self.counted_info: object = None
        """The `info` the file's counters last saw: the same again is a re-emission (§4.1 rule 2)."""
        self.read_limits: object = None
        """The last `rate_limits` read whose readings do not depend on the line's time: the same
        again yields no new reading."""

    def response(self, row: tuple[Any, ...]) -> None:
        """Keep one row per key: the better copy by `better_copy` (SPEC §3), as `Batch.add_response`."""
        key = row[0]
        seen = self.responses.get(key)
        if seen is None or better_copy(
            row[_OUT], row[_SIDE], row[_PATH], row[_OFFSET], seen[_OUT], seen[_SIDE], seen[_PATH], seen[_OFFSET]
        ):
            self.responses[key] = row

    def finish(self) -> Batch:
        self.batch.add_event_tuples(self.events)
        self.batch.add_response_tuples(self.responses.values())
        return self.batch


_OUT, _SIDE, _PATH, _OFFSET = (RESPONSE_FIELDS.index(f) for f in ("output_tokens", "is_sidechain", "file_path",
                                                                  "line_offset"))  # fmt: skip


def parse_rollout(buf: bytes | bytearray, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse complete rollout lines of `buf`, which starts at byte `base_offset` of `path`.

    The whole buffer is decoded with one `decode_lines` call; a buffer that does
    not decode cleanly is decoded line by line, so one bad line costs only itself.
    Lines are handled one by one either way: each changes the file's state.
    """
    batch = Batch()
    if state.thread_id is None:
        state.thread_id = thread_id_from_name(Path(path).name)
    rows = _Rows(batch)
    counts: dict[tuple[str, str, bool], int] = {}
    starts = line_starts(buf)
    decoded = decode_all(LINE_DECODER, buf, len(starts))
    if decoded is None:
        _line_by_line(buf, base_offset, path, state, rows, counts)
    else:
        batch.lines = len(starts)
        for rec, start in zip(decoded, starts, strict=True):
            where = _Line(path, base_offset + start, rec.timestamp)
            try:
                _line(rec, buf, start, where, state, rows, counts)
            except _LINE_ERRORS as exc:
                batch.quarantine_line(where.offset, _raw_at(buf, start), _reason(exc))
    batch.entry_types.update(counts)
    return rows.finish()


def _raw_at(buf: bytes | bytearray, start: int) -> bytes | bytearray:
    end = buf.find(b"\n", start)
    return buf[start : end if end != -1 else len(buf)]


def _line_by_line(
    buf: bytes | bytearray, base_offset: int, path: str, state: FileState, rows: _Rows,
    counts: dict[tuple[str, str, bool], int],
) -> None:  # fmt: skip
    batch = rows.batch
    offset = base_offset
    for raw in buf.split(b"\n"):
        at = offset
        offset += len(raw) + 1
        if not raw.strip():
            continue
        batch.lines += 1
        try:
            rec = LINE_DECODER.decode(raw)
            _line(rec, raw, 0, _Line(path, at, rec.timestamp), state, rows, counts)
        except _LINE_ERRORS as exc:
            batch.quarantine_line(at, raw, _reason(exc))


_LINE_ERRORS = (msgspec.DecodeError, LineProblem, RecursionError, ValueError, TypeError, KeyError, AttributeError)
"""What one line can raise: it is quarantined, and the pass goes on."""


def _reason(exc: Exception) -> str:
    """The quarantine reason of a line that raised `exc`."""
    if isinstance(exc, msgspec.DecodeError):
        return f"invalid JSON: {exc}"
    if isinstance(exc, LineProblem):
        return str(exc)
    return f"line could not be read ({type(exc).__name__})"


def _line(
    rec: Line, buf: bytes | bytearray, start: int, where: _Line, state: FileState, rows: _Rows,
    counts: dict[tuple[str, str, bool], int],
) -> None:  # fmt: skip
    """Hand one decoded line to the handler of its type."""
    kind, payload = rec.type, rec.payload
    if payload is None:
        payload, kind = _legacy(_raw_at(buf, start), kind, state)
        if payload is None:
            key = (str(kind or "<none>"), state.version or "", False)
            counts[key] = counts.get(key, 0) + 1
            return
    if not isinstance(kind, str):
        raise LineProblem("line without a type")
    if kind == "session_meta":
        _session_meta(payload, where, state)
        if state.parent_id is not None and not state.agent_meta_sent:
            state.agent_meta_sent = True
            rows.batch.agent_meta.append((state.thread_id or "", state.parent_id, state.agent_type, None, None))
    key = (kind, state.version or "", kind in KNOWN_TYPES)
    counts[key] = counts.get(key, 0) + 1
    if kind == "session_meta":
        return
    where.replay = state.replay == REPLAY_OPEN and _in_replay(where.ts, state)
    if kind == "event_msg":
        _event_msg(payload, where, state, rows)
    elif kind == "response_item":
        _response_item(payload, where, state, rows)
    elif kind == "turn_context":
        _turn_context(payload, where, state, rows)
    elif kind == "compacted":
        _compaction(payload.message, where, state, rows)
        state.compact_open = True
    elif kind == "token_usage_record":
        _usage_record(payload, where, state, rows)


def _ts(value: object) -> datetime | None:
    """`ts_from_iso`, with a short path for the one shape Codex writes (`2026-05-11T08:27:17.490Z`)."""
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value[:23])
        except ValueError:
            return None
        if moment.tzinfo is None:
            return moment
    return ts_from_iso(value)


def _legacy(raw: bytes | bytearray, kind: object, state: FileState) -> tuple[Payload | None, str | None]:
    """A pre-envelope line as (payload, line type): its first line is the session, then bare items."""
    obj = PAYLOAD_DECODER.decode(raw)
    if kind is None and obj.id is not None and obj.record_type is None:
        state.legacy = True
        return obj, "session_meta"
    if isinstance(kind, str) and kind in LEGACY_ITEMS:
        state.legacy = True
        return obj, "response_item"
    return None, kind if isinstance(kind, str) else None


# -- session and turn ------------------------------------------------------------


def _session_meta(p: Payload, where: _Line, state: FileState) -> None:
    """The first `session_meta` names the thread; a later one with another id is a copied parent's."""
    thread = _str(p.id)
    if state.meta_seen:
        if thread and thread != state.thread_id and state.replay != REPLAY_ENDED and state.requests == 0:
            state.copied_meta, state.replay = True, REPLAY_OPEN
            state.replay_anchor = _iso(where.ts)
        return
    state.meta_seen = True
    state.thread_id = thread or state.thread_id
    state.created = _iso(ts_from_iso(p.timestamp) or where.ts)
    state.project = _str(p.cwd) or state.project
    state.version = _str(p.cli_version) or state.version
    state.provider = _str(p.model_provider)
    state.meta_model = _str(p.model)
    if isinstance(p.git, dict):
        state.branch = _str(p.git.get("branch"))
    spawn = _thread_spawn(p.source)
    if spawn is not None:
        state.parent_id = _str(spawn.get("parent_thread_id"))
        state.agent_type = _str(spawn.get("agent_role")) or _str(spawn.get("agent_type")) or "thread_spawn"
    if spawn is not None or _str(p.forked_from_id):
        state.replay = REPLAY_OPEN


def _thread_spawn(source: object) -> dict[str, Any] | None:
    """`source.subagent.thread_spawn` of a spawned subagent thread, else None."""
    sub = source.get("subagent") if isinstance(source, dict) else None
    spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
    return spawn if isinstance(spawn, dict) else None


def _in_replay(ts: datetime | None, state: FileState) -> bool:
    """§4.4 (a): in a lineage file, the lines stamped before the file's creation, or within a second of
    the copied parent `session_meta`, are the parent's history; the first other line ends the prefix."""
    if state.replay != REPLAY_OPEN:
        return False
    created, anchor = ts_from_iso(state.created), ts_from_iso(state.replay_anchor)
    if ts is not None and created is not None and ts < created:
        return True
    if ts is not None and anchor is not None and state.copied_meta and ts <= anchor + REPLAY_WINDOW:
        return True
    state.replay = REPLAY_ENDED
    return False


def _turn_context(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """The model of the requests that follow; a change is a `/model` command at a turn boundary,
    the agent's own switch inside a turn."""
    state.project = state.project or _str(p.cwd)
    state.service_tier = _str(p.service_tier) or state.service_tier
    model = _str(p.model)
    if model is None:
        return
    before, state.model = state.model, model
    if before is None or before == model or where.replay:
        return
    if state.turn_open:
        _event(rows, where, state, 0, "command", name="/model", text=clean_text(model)[:SUMMARY_LIMIT], model=model)
    else:
        _event(rows, where, state, 0, "system", subtype="model_fallback", model=model)


# -- event_msg ---------------------------------------------------------------------


def _event_msg(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    etype = p.type
    if etype == "token_count":
        _token_count(p, where, state, rows)
        return
    if where.replay:
        return
    if etype == "user_message":
        _user_message(p, where, state, rows)
    elif etype == "task_started":
        state.turn_open = True
        _window(p.model_context_window, where, state, rows)
    elif etype == "turn_aborted":
        _event(rows, where, state, 0, "interrupt", text=_str(p.reason))
    elif etype == "context_compacted":
        if not state.compact_open:
            _compaction(None, where, state, rows)
        state.compact_open = False
    elif etype == "error" and isinstance(p.message, str):
        _event(rows, where, state, 0, "api_error", subtype="error", text=clean_text(p.message)[:SUMMARY_LIMIT])
    elif etype == "exec_command_end" and type(p.exit_code) is int:
        _late_result(_str(p.call_id), tools.Outcome(code=p.exit_code), "", where, state, rows)
    elif etype == "patch_apply_end" and p.success is False:
        _late_result(_str(p.call_id), tools.Outcome(failed=True), "patch failed", where, state, rows)


def _user_message(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """A typed prompt; a subagent's first prompts are its parent's spawn message, not a person's."""
    state.turn_open = True
    if not isinstance(p.message, str) or not p.message.strip():
        return
    if state.parent_id is not None and state.requests == 0:
        return
    _event(rows, where, state, 0, "prompt", text=clean_text(p.message)[:PROMPT_LIMIT])


def _compaction(summary: object, where: _Line, state: FileState, rows: _Rows) -> None:
    """A compaction: context before it is the last request's whole prompt; Codex records no trigger."""
    if where.replay:
        return
    text = clean_text(summary)[:SUMMARY_LIMIT] if isinstance(summary, str) and summary else None
    _event(rows, where, state, 0, "system", subtype="compact_boundary", text=text, pre_tokens=state.last_prompt)


# -- usage ------------------------------------------------------------------------


def _token_count(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """Plan-limit readings, then at most one request (§4.1)."""
    info, rate_limits = p.info, p.rate_limits
    if info is not None and not isinstance(info, dict):
        raise LineProblem("token_count info is not an object")
    repeated = info is not None and info == rows.counted_info  # decoding and counting it again changes nothing
    total = usage_of(info.get("total_token_usage"), "total_token_usage") if info and not repeated else None
    last = usage_of(info.get("last_token_usage"), "last_token_usage") if info and not repeated else None
    if info and not repeated and not where.replay:
        _window(info.get("model_context_window"), where, state, rows)
    if not where.replay and (rate_limits is None or rate_limits != rows.read_limits):
        for i, reading in enumerate(limit_readings(rate_limits, where.ts, state), start=1):
            _event(rows, where, state, i, "limit", **reading)
        rows.read_limits = None if depends_on_time(rate_limits) else rate_limits
    if total is None and last is None:
        return
    rows.counted_info = info
    usage = _count(total, last, state)
    if usage is None or state.records_mode or where.replay or usage.empty:
        return
    model = _str((info or {}).get("model")) or _str(p.model) or _str(p.model_name)
    key = f"{state.thread_id}:{Usage(*state.prev_total).text() if state.prev_total else ''}+{usage.text()}"
    _response(rows, where, state, f"codex:{key}", usage, model, None)


def _window(value: object, where: _Line, state: FileState, rows: _Rows) -> None:
    """The context window Codex says it runs the model at (`model_context_window`, 258,400 for the
    gpt-5 family): a `system`/`context_window` event when it changes, so the context limit uses it
    rather than the model's nominal window. A value that is not a token count is ignored."""
    if type(value) is not int or not 0 < value < MAX_TOKENS or value == state.window:
        return
    state.window = value
    _event(rows, where, state, 0, "system", subtype="context_window", model=state.model, pre_tokens=value)


def _count(total: Usage | None, last: Usage | None, state: FileState) -> Usage | None:
    """Rules 2-5 of §4.1: the request's usage, or None for a re-emission or a stale snapshot."""
    pair = _fingerprint(total, last)
    prev = Usage(*state.prev_total) if state.prev_total else None
    repeated = pair == state.prev_pair or pair in state.pairs
    state.prev_pair = pair
    if repeated or (total is not None and total == prev):
        return None
    if total is not None and prev is not None and total.below(prev):
        if total != last and _stale(total, last, prev):
            return None
        usage = last or total
    elif last is not None:
        usage = last
    else:
        assert total is not None
        usage = total.minus(prev) if prev else total
    state.prev_total = list(total if total is not None else (prev.plus(usage) if prev else usage))
    state.pairs.add(pair)
    return usage


def _fingerprint(total: Usage | None, last: Usage | None) -> int:
    """A stable 48-bit id of a (total, last) pair: the state keeps one per counted request."""
    text = f"{_LIST6(*total) if total else ''}|{_LIST6(*last) if last else ''}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=6).digest(), "big")


_LIST6 = "[{}, {}, {}, {}, {}, {}]".format
"""`str(list(usage))` of a Usage (six ints), without building the list: fingerprints in stored states stay valid."""


def _stale(total: Usage, last: Usage | None, prev: Usage) -> bool:
    """A snapshot written again late: within 2 % of the high-water mark, or one recent step below it."""
    now, high = total.input + total.output, prev.input + prev.output
    step = (last.input + last.output) if last else 0
    return now >= 0.98 * high or now + 2 * step >= high


def _usage_record(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """§4.1 rule 7: one per response id; once a file has them, `token_count` is limit data only."""
    usage = usage_of(p.usage, "usage")
    response_id = _str(p.response_id)
    if usage is None or response_id is None:
        return
    state.records_mode = True
    if where.replay or usage.empty:
        return
    _response(rows, where, state, f"codex:resp:{response_id}", usage, _str(p.model), response_id)


def _response(
    rows: _Rows, where: _Line, state: FileState, key: str, usage: Usage, model: str | None, request_id: str | None
) -> None:
    """One request's row: input without cache reads and writes, output with reasoning."""
    model = model or state.model or state.meta_model or UNKNOWN_MODEL
    cached = min(usage.cached, usage.input) if usage.input else usage.cached
    write = min(usage.write, max(usage.input - cached, 0))
    local = state.provider in LOCAL_PROVIDERS or ":" in model
    state.requests += 1
    state.turn_open = state.compact_open = False
    state.last_prompt = usage.input
    rows.response((  # RESPONSE_FIELDS order
        key, SOURCE_KIND, _session(state), _agent(state), state.parent_id is not None, where.ts, model,
        model_base(model), tier_of(model), max(usage.input - cached - write, 0), usage.output, cached, write, 0, 0,
        None, None, state.service_tier, False, None, state.project, state.branch, state.version, request_id, None,
        None, None, where.path, where.offset, AGENT, "local" if local else vendor_of(model, default=VENDOR),
        usage.reasoning, None,
    ))  # fmt: skip


# -- response_item -----------------------------------------------------------------


def _response_item(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    if where.replay:
        return
    itype = p.type
    if itype in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
        _tool_call(p, where, state, rows)
    elif itype in ("function_call_output", "custom_tool_call_output"):
        _tool_output(p, where, state, rows)
    elif itype == "message":
        _message(p, where, state, rows)


def _message(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """Assistant text (its tail); user items are prompts only in legacy files, which lack `user_message`."""
    text = "\n".join(
        str(part.get("text")) for part in (p.content if isinstance(p.content, list) else ())
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )  # fmt: skip
    if not text.strip():
        return
    if p.role == "assistant":
        _event(rows, where, state, 0, "text", text=clean_text(text)[-TEXT_TAIL_LIMIT:])
    elif p.role == "user" and state.legacy and not text.lstrip().startswith(_INJECTED_PREFIXES):
        _event(rows, where, state, 0, "prompt", text=clean_text(text)[:PROMPT_LIMIT])


def _tool_call(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    itype = p.type
    call_id = _str(p.call_id) or _str(p.id)
    subtype = None
    if itype == "local_shell_call":
        name, action = "local_shell_call", p.action if isinstance(p.action, dict) else {}
        summary = tools.command_text(action.get("command"))
    elif itype == "web_search_call":
        name, action = "web_search", p.action if isinstance(p.action, dict) else {}
        query = action.get("query")
        summary = clean_text(query)[:SUMMARY_LIMIT] if isinstance(query, str) else None
    elif itype == "custom_tool_call":
        name = _str(p.name) or "custom_tool"
        summary = tools.patch_summary(p.input)
    else:
        name = _str(p.name) or "function"
        args = tools.arguments(p.arguments)
        summary = tools.call_summary(name, args, p.arguments)
        if name == "write_stdin" and call_id and args.get("session_id") is not None:
            state.stdin_session[call_id] = str(args["session_id"])
        if name == "spawn_agent":
            subtype = _str(args.get("agent_type")) or _str(args.get("agent_role"))
    if call_id and itype != "web_search_call":
        state.open_call(call_id, name)
    _event(rows, where, state, 0, "tool_use", name=tools.tool_name(name, p.namespace), tool_use_id=call_id,
           text=summary, subtype=subtype)  # fmt: skip


def _tool_output(p: Payload, where: _Line, state: FileState, rows: _Rows) -> None:
    """A call's result; an exec that keeps running gets its result when its exit code shows up."""
    call_id = _str(p.call_id)
    text = tools.output_text(p.output)
    result = tools.outcome(text)
    name = state.open_calls.get(call_id or "")
    if call_id is None:
        return
    if not result.known and name in tools.SHELL_TOOLS:
        state.exec_session[result.running or ""] = call_id
        return
    state.open_calls.pop(call_id, None)
    stdin_of = state.stdin_session.pop(call_id, None)
    if name == "write_stdin":
        exec_call = state.exec_session.get(stdin_of or "")
        if exec_call is not None and result.code is not None:
            _late_result(exec_call, result, text, where, state, rows, index=1)
        result = tools.Outcome(failed=result.failed)
    _result_event(call_id, result, text, where, state, rows, 0)


def _late_result(
    call_id: str | None, result: tools.Outcome, text: str, where: _Line, state: FileState, rows: _Rows,
    index: int = 0,
) -> None:  # fmt: skip
    """The result of a call whose output did not say how it ended (`exec_command_end`, `write_stdin`)."""
    if call_id is None or call_id not in state.open_calls or where.replay:
        return
    state.open_calls.pop(call_id)
    for session, exec_call in list(state.exec_session.items()):
        if exec_call == call_id:
            del state.exec_session[session]
    _result_event(call_id, result, text, where, state, rows, index)


def _result_event(
    call_id: str, result: tools.Outcome, text: str, where: _Line, state: FileState, rows: _Rows, index: int
) -> None:
    error = result.is_error
    _event(rows, where, state, index, "tool_result", tool_use_id=call_id, is_error=error,
           text=tools.error_text(text) if error and text else None)  # fmt: skip


# -- rows --------------------------------------------------------------------------


def _event(
    rows: _Rows, where: _Line, state: FileState, index: int, kind: str, subtype: str | None = None,
    name: str | None = None, tool_use_id: str | None = None, text: str | None = None, is_error: bool | None = None,
    model: str | None = None, pre_tokens: int | None = None, trigger: str | None = None,
) -> None:  # fmt: skip
    """One event row, keyed by thread, line offset and index: the same line read again adds nothing."""
    rows.events.append((
        f"codex:{state.thread_id}:{where.offset}:{index}", _session(state), _agent(state),
        state.parent_id is not None, where.ts, None, None, kind, subtype, name, tool_use_id, text, is_error,
        model, None, pre_tokens, trigger, None, where.path, where.offset, AGENT,
    ))  # fmt: skip


def _session(state: FileState) -> str | None:
    """A spawned subagent's rows belong to its parent's session, as Claude Code's do."""
    return state.parent_id or state.thread_id


def _agent(state: FileState) -> str | None:
    return state.thread_id if state.parent_id is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
