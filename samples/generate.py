"""Provides tiermon's demo data: an invented Claude Code config dir and Anthropic API logs.

`generate()` writes them, `live_script()` keeps one session growing for `tiermon --demo`, and
``python samples/generate.py`` rewrites ``samples/claude`` and ``samples/api`` in place
(``tests/test_samples.py`` fails when the committed copy drifts from this file). Everything here
is invented; only the *shape* of the entries follows real transcripts (FORMATS.md §1). Ids come
from seeded RNGs and timestamps hang off ``now``, so the output is byte-identical on every run.

Sessions (``claude/projects/<project>/<session>.jsonl``), oldest first; "-> advice" names the
escalation advice the signal should produce (SPEC §4):

3c1d9e52  webshop, 1.0.108, Sonnet 4.5
    Inline sidechains (two Task roots with parentUuid null, prompt = Task input.prompt); a
    `summary` entry; two simple Sonnet turns (-> de-escalate); one long-context Sonnet 4.5 request
    (input + cache > 200k), which is also a context alert.
8f2a6b1c  webshop, 2.0.74, Opus 4.5
    Flat ``agent-<7hex>.jsonl`` files: a Warmup answered by Haiku 4.5, one by Opus 4.5, and an
    Explore agent (Task result carries toolUseResult.agentId); a `<synthetic>` API-error row;
    file-history-snapshot; simple Opus turns (-> de-escalate).
a4e7c0d2  infra-tools, 2.1.39, Opus 4.6 -> Sonnet 4.6
    `/model sonnet` (caveat, command, "Set model to" stdout): a `command` switch; 1-hour cache
    writes throughout, with a 20-minute idle gap that is NOT a cache rebuild; queue-operation;
    hook_progress, stop_hook_summary, turn_duration.
b9d15e8a  ml-pipeline, 2.1.39, Opus 4.6 -> Haiku 4.5
    Nested Explore agent without meta.json; an agent_progress entry embedding one of the agent's
    responses WITH usage (must not be counted); a Skill switch to Haiku (toolUseResult.model);
    the same failing Bash command three times in a row on Haiku: thrash (-> escalate).
e5a9c4b2  infra-tools, 2.1.90, claude-fable-5-1
    Pipeline health: an unpriced model, a `mystery-future-type` entry, one corrupt JSON line
    between valid ones, `ai-title`; the hostile prompt HOSTILE_PROMPT (markup and an ANSI escape).
c2f8a3e6  ml-pipeline, 2.1.90, Sonnet 4.5
    Nested general-purpose agent on Haiku (Task input.model "haiku") with meta.json; re-read drift
    (train.py read three times); a 42-minute idle gap, then a > 100k-token cache rebuild; context
    at 84 % of 200k; auto compaction (agent-acompact-<6hex>, compact_boundary, isCompactSummary).
d7b3e1f9  webshop, 2.1.90, Opus 4.6 -> Haiku 4.5
    An automatic downgrade (nothing but a prompt in between: a drift alert); question churn on
    Haiku, four asks answered yes/ok/go ahead/yes (-> escalate); one near-miss (an ask answered by
    a real instruction); a simple Opus turn (-> de-escalate).
f1c6d8e3  webshop, 2.1.90, Opus 4.6
    The live session: last activity about three minutes before ``now``; `live_script()` goes on
    with streamed responses, Explore agents (nested, meta.json, agent_progress), a Bash thrash,
    `/model sonnet` and back, churn, and growing context.

API logs (``api/``): ``support-bot.jsonl`` (wrapped and bare Messages API responses),
``batch-results.jsonl`` (Message Batches results, one errored), ``middleware.jsonl`` (tiermon's own
middleware lines, one 529 error).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
"""Anchor of the committed samples; a fixed `now` keeps them byte-identical."""

OPUS46, OPUS45 = "claude-opus-4-6", "claude-opus-4-5-20251101"
SONNET45, SONNET46 = "claude-sonnet-4-5-20250929", "claude-sonnet-4-6"
HAIKU45 = "claude-haiku-4-5-20251001"
FABLE = "claude-fable-5-1"
"""An invented model with no price, to exercise the unpriced path."""

INLINE, FLAT = "3c1d9e52-7a0b-4f6e-9d21-5b8e0c4a7f13", "8f2a6b1c-0d4e-4c7a-b3f9-2e6d1a5c9b80"
SWITCH, SKILL = "a4e7c0d2-5b19-4e83-8a6f-c1d3b7e9f024", "b9d15e8a-2c47-4f0b-9e36-7a8c4d2f1e65"
COMPACT, DOWNGRADE = "c2f8a3e6-9d1b-4a57-b0e4-6f3c8d9a2b17", "d7b3e1f9-4a6c-4d28-8c5e-0b9f2a7d3e41"
HEALTH, LIVE = "e5a9c4b2-1f7d-4b3e-a6c8-3d0e5f1b9a72", "f1c6d8e3-7b2a-4e95-9f14-8a5b2c6e0d39"

HOSTILE_PROMPT = "Why does [@click=app.quit]this[/] fail? \u001b[31mred\u001b[0m"
"""A prompt that must be shown as text, never interpreted as markup or escapes."""

Json = dict[str, Any]
Files = dict[str, list[str]]
"""Path relative to the output dir -> lines (JSON text without newline), in write order."""

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SIG = "EpUBCkYICxgCKkDdemoSignatureInventedForTiermonSamplesNotARealSignature=="


def dumps(obj: Json) -> str:
    """Compact JSON, as Claude Code writes it (non-ASCII kept, control chars escaped)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def iso(t: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, the transcript timestamp form."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Ids:
    """Seeded factory for ids and jitter, so every run yields the same bytes."""

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def b58(self, n: int) -> str:
        return "".join(self._rng.choice(_B58) for _ in range(n))

    def hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def ms(self, lo: float, hi: float) -> timedelta:
        return timedelta(milliseconds=self._rng.randint(int(lo * 1000), int(hi * 1000)))


def text(s: str) -> Json:
    return {"type": "text", "text": s}


def thinking(s: str) -> Json:
    return {"type": "thinking", "thinking": s, "signature": _SIG}


def tool(name: str, **inp: Any) -> Json:
    """A tool_use block; the session fills in its id."""
    return {"type": "tool_use", "id": "", "name": name, "input": inp}


def project_dir(cwd: str) -> str:
    """Claude Code's project folder name: every non-alphanumeric character becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


class Session:
    """Writes one chain (a main session or one subagent) and tracks its prompt cache.

    Context bookkeeping: `cached` tokens are in the prompt cache, `pending` tokens are new in the
    next request (tool results, the last reply). A request reads `cached` and writes `pending`,
    unless the model changed or the cache expired: then it writes everything again.
    """

    def __init__(self, files: Files, ids: Ids, *, path: str, sid: str, cwd: str, version: str,
                 branch: str, start: datetime, model: str, base: int = 18_000, ttl: str = "5m",
                 slug: str | None = None, agent_id: str | None = None,
                 sidechain: bool = False) -> None:
        self.files, self.ids, self.path, self.sid, self.cwd = files, ids, path, sid, cwd
        self.version, self.branch, self.t, self.model, self.ttl = version, branch, start, model, ttl
        self.v = tuple(int(p) for p in version.split("."))
        self.slug, self.agent_id, self.sidechain = slug, agent_id, sidechain
        self.parent: str | None = None
        self.cached, self.pending = 0, base
        self.last_model: str | None = None
        self.last_call = start
        self.last_usage: Json = {}
        self.last_asst: str | None = None
        self.turn_start = start
        self.tool_calls = 0
        self.assistants: list[Json] = []
        self.task_prompt = ""

    @property
    def modern(self) -> bool:
        return self.v >= (2, 1, 0)

    def tick(self, lo: float, hi: float | None = None) -> None:
        self.t += self.ids.ms(lo, hi if hi is not None else lo * 1.5)

    def _env(self) -> Json:
        e: Json = {"parentUuid": self.parent, "isSidechain": self.sidechain, "userType": "external",
                   "cwd": self.cwd, "sessionId": self.sid, "version": self.version,
                   "gitBranch": self.branch}
        if self.agent_id:
            e["agentId"] = self.agent_id
        if self.slug:
            e["slug"] = self.slug
        return e

    def raw(self, entry: Json | str) -> None:
        """Append an entry without the envelope (summary, snapshots) or a raw line."""
        line = entry if isinstance(entry, str) else dumps(entry)
        self.files.setdefault(self.path, []).append(line)

    def _put(self, e: Json, tail: Json | None = None, *, chain: bool = True) -> str:
        u = self.ids.uuid()
        e.update(uuid=u, timestamp=iso(self.t), **(tail or {}))
        self.raw(e)
        if chain:
            self.parent = u
        return u

    def user(self, content: str | list[Json], **tail: Any) -> str:
        e = self._env() | {"type": "user", "message": {"role": "user", "content": content}}
        return self._put(e, tail)

    def prompt(self, s: str, *, gap: float = 45, tokens: int = 40) -> str:
        """A human prompt after `gap` seconds of thinking time."""
        self.tick(gap)
        self.turn_start, self.pending = self.t, self.pending + tokens
        extra = {"thinkingMetadata": {"maxThinkingTokens": 31999}, "todos": [],
                 "permissionMode": "default"} if self.modern else {}
        return self.user(s, **extra)

    def _usage(self, inp: int, write: int, read: int, out: int) -> Json:
        five, hour = (write, 0) if self.ttl == "5m" else (0, write)
        u: Json = {"input_tokens": inp, "cache_creation_input_tokens": write,
                   "cache_read_input_tokens": read,
                   "cache_creation": {"ephemeral_5m_input_tokens": five,
                                      "ephemeral_1h_input_tokens": hour},
                   "output_tokens": out, "service_tier": "standard"}
        if self.modern:
            u["inference_geo"] = "global"
        return u

    def assistant(self, *blocks: Json, out: int, inp: int = 3) -> list[str]:
        """One API response streamed as one line per block; early lines carry placeholder output."""
        model = self.model
        self.tick(2, 7)
        lifetime = timedelta(hours=1) if self.ttl == "1h" else timedelta(minutes=5)
        fresh = self.last_model not in (None, model) or self.t - self.last_call > lifetime
        new = self.pending
        read, write = (0, self.cached + new) if fresh else (self.cached, new)
        self.cached, self.pending = self.cached + new, out
        self.last_model, self.last_call = model, self.t
        mid, rid, tool_ids = "msg_01" + self.ids.b58(22), "req_011C" + self.ids.b58(20), []
        for i, block in enumerate(blocks):
            b = dict(block)
            if b["type"] == "tool_use":
                b["id"] = "toolu_01" + self.ids.b58(22)
                tool_ids.append(b["id"])
                if self.modern:
                    b["caller"] = {"type": "direct"}
            last = i == len(blocks) - 1
            placeholder = min(out, (1, 3, 8)[i % 3])
            self.last_usage = self._usage(inp, write, read, out if last else placeholder)
            msg = {"model": model, "id": mid, "type": "message", "role": "assistant",
                   "content": [b], "stop_reason": None, "stop_sequence": None,
                   "usage": self.last_usage}
            e = self._env() | {"message": msg, "requestId": rid, "type": "assistant"}
            self.last_asst = self._put(e)
            self.assistants.append(e)
            if not last:
                self.tick(0.3, 1.8)
        self.tool_calls += len(tool_ids)
        return tool_ids

    def synthetic(self, s: str) -> None:
        """The row Claude Code fabricates for an API error: no model, zero usage, UUID id."""
        self.tick(8, 20)
        usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0},
                 "service_tier": None}
        msg = {"id": self.ids.uuid(), "model": "<synthetic>", "role": "assistant",
               "stop_reason": "stop_sequence", "stop_sequence": "", "type": "message",
               "usage": usage, "content": [text(s)]}
        self._put(self._env() | {"type": "assistant", "message": msg}, {"isApiErrorMessage": True})

    def result(self, tool_id: str, content: str | list[Json], *, tur: Json | str,
               error: bool = False, tokens: int = 300) -> None:
        self.tick(0.4, 3)
        block: Json = {"tool_use_id": tool_id, "type": "tool_result", "content": content}
        if error:
            block["is_error"] = True
        tail: Json = {"toolUseResult": tur}
        if self.modern:
            tail["sourceToolAssistantUUID"] = self.last_asst
        self.pending += tokens
        self.user([block], **tail)

    def system(self, subtype: str, **fields: Any) -> str:
        return self._put(self._env() | {"type": "system", "subtype": subtype, **fields})

    def progress(self, data: Json, tool_use_id: str, parent_tool_use_id: str, *,
                 chain: bool = False) -> None:
        """A progress entry; off the main chain unless it opens the session (hooks)."""
        e = self._env() | {"type": "progress", "data": data, "toolUseID": tool_use_id,
                           "parentToolUseID": parent_tool_use_id}
        self._put(e, chain=chain)

    def hooks(self, *commands: str) -> None:
        """SessionStart hook_progress entries, as 2.1.x writes before the first prompt."""
        tid = self.ids.uuid()
        for cmd in commands or ("~/.claude/hooks/notify.sh start",):
            data = {"type": "hook_progress", "hookEvent": "SessionStart",
                    "hookName": "SessionStart:startup", "command": cmd}
            self.progress(data, tid, tid, chain=True)

    def end_turn(self) -> None:
        """The stop-hook and turn-duration system entries that close a 2.1.x turn."""
        if not self.modern:
            return
        self.tick(0.3, 1)
        self.system("stop_hook_summary", hookCount=1,
                    hookInfos=[{"command": "~/.claude/hooks/notify.sh stop"}], hookErrors=[],
                    preventedContinuation=False, stopReason="", hasOutput=False,
                    level="suggestion", toolUseID=self.ids.uuid())
        ms = int((self.t - self.turn_start).total_seconds() * 1000)
        self.system("turn_duration", durationMs=ms, isMeta=False)

    # -- composite steps -------------------------------------------------------------------
    def say(self, reply: str, *, out: int, think: str = "") -> None:
        self.assistant(*([thinking(think)] if think else []), text(reply), out=out)

    def _call(self, lead: str, block: Json, out: int) -> str:
        (tid,) = self.assistant(*([text(lead)] if lead else []), block, out=out)
        return tid

    def bash(self, cmd: str, output: str, *, error: bool = False, lead: str = "", out: int = 110,
             tokens: int = 400) -> None:
        tid = self._call(lead, tool("Bash", command=cmd), out)
        if error:
            body = f"Exit code 1\n{output}"
            self.result(tid, body, tur=f"Error: {body}", error=True, tokens=tokens)
        else:
            tur = {"stdout": output, "stderr": "", "interrupted": False, "isImage": False}
            self.result(tid, output, tur=tur, tokens=tokens)

    def read(self, path: str, body: str, *, lead: str = "", out: int = 90, tokens: int = 0) -> None:
        tid = self._call(lead, tool("Read", file_path=path), out)
        lines = body.split("\n")
        numbered = "\n".join(f"{n:>6}→{line}" for n, line in enumerate(lines, 1))
        file = {"filePath": path, "content": body, "numLines": len(lines), "startLine": 1,
                "totalLines": len(lines)}
        self.result(tid, numbered, tur={"type": "text", "file": file},
                    tokens=tokens or len(body) // 3 + 60)

    def edit(self, path: str, old: str, new: str, *, lead: str = "", out: int = 240) -> None:
        tid = self._call(lead, tool("Edit", file_path=path, old_string=old, new_string=new,
                                    replace_all=False), out)
        tur = {"filePath": path, "oldString": old, "newString": new, "replaceAll": False,
               "userModified": False}
        self.result(tid, f"The file {path} has been updated.", tur=tur, tokens=180)

    def write(self, path: str, content: str, *, lead: str = "", out: int = 600) -> None:
        tid = self._call(lead, tool("Write", file_path=path, content=content), out)
        tur = {"type": "create", "filePath": path, "content": content}
        self.result(tid, f"File created successfully at: {path}", tur=tur, tokens=120)

    def grep(self, pattern: str, hits: list[str], *, lead: str = "", out: int = 80) -> None:
        tid = self._call(lead, tool("Grep", pattern=pattern, output_mode="files_with_matches"), out)
        tur = {"mode": "files_with_matches", "filenames": hits, "numFiles": len(hits)}
        self.result(tid, f"Found {len(hits)} files\n" + "\n".join(hits), tur=tur, tokens=90)

    def slash_model(self, alias: str, full: str) -> None:
        """`/model <alias>`: caveat (isMeta), the command, and its ANSI-bold stdout."""
        self.tick(20, 40)
        self.user("<local-command-caveat>Caveat: these messages come from local commands the user "
                  "ran. Do not respond to them unless asked.</local-command-caveat>", isMeta=True)
        self.user("<command-name>/model</command-name>\n            <command-message>model"
                  f"</command-message>\n            <command-args>{alias}</command-args>")
        self.user(f"<local-command-stdout>Set model to \u001b[1m{alias} ({full})\u001b[22m"
                  "</local-command-stdout>")
        self.model = full

    def skill(self, name: str, model: str, body: str, lead: str) -> None:
        """A Skill whose frontmatter sets `model`: the main chain moves to that model."""
        tid = self._call(lead, tool("Skill", skill=name), 60)
        tur = {"success": True, "commandName": name, "allowedTools": ["Bash", "Read", "Edit"],
               "model": model}
        self.result(tid, f"Launching skill: {name}", tur=tur, tokens=50)
        self.user([text(body)], isMeta=True, sourceToolUseID=tid)
        self.pending += len(body) // 3
        self.model = model

    def spawn(self, path: str, agent_id: str | None, model: str, base: int = 12_000) -> Session:
        return Session(self.files, self.ids, path=path, sid=self.sid, cwd=self.cwd,
                       version=self.version, branch=self.branch, start=self.t, model=model,
                       base=base, ttl=self.ttl, slug=self.slug, agent_id=agent_id, sidechain=True)

    def warmup(self, model: str, inp: int, reply: str, out: int) -> None:
        """A 2.0.x "Warmup" agent: a flat agent file nobody asked for."""
        agent_id = self.ids.hex(7)
        a = self.spawn(f"{self.path.rsplit('/', 1)[0]}/agent-{agent_id}.jsonl", agent_id, model, 0)
        a.user("Warmup")
        a.assistant(text(reply), out=out, inp=inp)
        self.t = a.t

    def start_task(self, kind: str, desc: str, prompt: str, *, model: str, layout: str,
                   alias: str | None = None, lead: str = "") -> tuple[str, Session]:
        """Emit a Task tool_use and open its subagent chain in the layout of this version."""
        inp: Json = {"description": desc, "prompt": prompt, "subagent_type": kind}
        if alias:
            inp["model"] = alias
        tid = self._call(lead, tool("Task", **inp), 160)
        agent_id = None if layout == "inline" else self.ids.hex(17 if self.v >= (2, 1, 80) else 7)
        folder = self.path.rsplit("/", 1)[0]
        path = {"inline": self.path, "flat": f"{folder}/agent-{agent_id}.jsonl",
                "nested": f"{folder}/{self.sid}/subagents/agent-{agent_id}.jsonl"}[layout]
        if layout == "nested" and self.v >= (2, 1, 80):
            meta = {"agentType": kind, "description": desc, "toolUseId": tid}
            self.files[path.replace(".jsonl", ".meta.json")] = [dumps(meta)]
        a = self.spawn(path, agent_id, model)
        a.task_prompt = prompt
        a.user(prompt)
        return tid, a

    def agent_progress(self, a: Session, tid: str, prompt: str) -> None:
        """Copy of the agent's latest response in the parent file: usage that must not count."""
        src = a.assistants[-1]
        embedded = {"type": "assistant", "timestamp": src["timestamp"], "message": src["message"],
                    "requestId": src["requestId"], "uuid": src["uuid"]}
        data: Json = {"message": embedded, "normalizedMessages": [], "type": "agent_progress",
                "prompt": prompt, "agentId": a.agent_id}
        self.t = max(self.t, a.t)
        self.progress(data, f"agent_{src['message']['id']}", tid)

    def finish_task(self, tid: str, a: Session, final: str) -> None:
        a.say(final, out=len(final) // 3 + 40)
        self.t = max(self.t, a.t)
        u = a.last_usage
        total = sum(u[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                   "cache_read_input_tokens", "output_tokens"))
        ms = int((a.t - a.turn_start).total_seconds() * 1000)
        tur: Json = {"content": [text(final)], "totalDurationMs": ms, "totalTokens": total,
                     "totalToolUseCount": a.tool_calls, "usage": u}
        content = [text(final)]
        if a.agent_id:
            tur = {"status": "completed", "prompt": a.task_prompt, "agentId": a.agent_id} | tur
            content.append(text(f"agentId: {a.agent_id} (for resuming to continue this agent's "
                                f"work if needed)\n<usage>total_tokens: {total}\ntool_uses: "
                                f"{a.tool_calls}\nduration_ms: {ms}</usage>"))
        self.result(tid, content, tur=tur, tokens=len(final) // 3 + 80)

    def task(self, kind: str, desc: str, prompt: str, work: Callable[[Session], str], *,
             model: str, layout: str, alias: str | None = None, lead: str = "",
             progress: bool = False) -> None:
        tid, a = self.start_task(kind, desc, prompt, model=model, layout=layout, alias=alias,
                                 lead=lead)
        final = work(a)
        if progress:
            self.agent_progress(a, tid, prompt)
        self.finish_task(tid, a, final)

    def compact(self, summary: str) -> None:
        """Auto-compaction: an acompact agent, compact_boundary, then the summary entry."""
        pre = self.cached + self.pending
        agent_id = f"acompact-{self.ids.hex(6)}"
        folder = self.path.rsplit("/", 1)[0]
        a = self.spawn(f"{folder}/{self.sid}/subagents/agent-{agent_id}.jsonl", agent_id,
                       self.model, 0)
        a.parent, a.cached, a.last_model, a.last_call = self.parent, self.cached, self.model, self.t
        a.pending = self.pending
        a.user("Summarise the conversation so far for continuation: the user's requests, files "
               "touched, decisions, errors and fixes, and the next step.")
        a.say(summary, out=2900)
        self.t = a.t
        leaf, self.parent = self.parent, None
        e = {"parentUuid": None, "logicalParentUuid": leaf} | self._env() | {
            "type": "system", "subtype": "compact_boundary", "content": "Conversation compacted",
            "isMeta": False, "level": "info",
            "compactMetadata": {"trigger": "auto", "preTokens": pre}}
        self._put(e)
        self.user("This session is being continued from an earlier conversation that ran out of "
                  f"context. Summary:\n{summary}", isVisibleInTranscriptOnly=True,
                  isCompactSummary=True)
        self.cached, self.pending = 0, 16_000


def _session(files: Files, sid: str, cwd: str, version: str, branch: str, start: datetime,
             model: str, **kw: Any) -> Session:
    path = f"claude/projects/{project_dir(cwd)}/{sid}.jsonl"
    return Session(files, Ids(sid), path=path, sid=sid, cwd=cwd, version=version, branch=branch,
                   start=start, model=model, **kw)


WEB, INFRA, ML = "/home/dev/webshop", "/home/dev/infra-tools", "/home/dev/ml-pipeline"


def _inline_session(files: Files, now: datetime) -> None:
    s = _session(files, INLINE, WEB, "1.0.108", "main", now - timedelta(days=13, hours=4), SONNET45)
    s.prompt("What does the `@lru_cache` on `price_for()` in shop/pricing.py cache? Just explain.")
    s.say("It memoises `price_for(sku, currency)` per argument pair for the life of the worker, so "
          "a price change only shows up after a restart.", out=240)
    s.prompt("Is `maxsize=None` safe there?")
    s.say("Yes for a catalogue of a few thousand SKUs: the cache is bounded by the catalogue.",
          out=160)
    s.prompt("Audit the checkout flow for missing CSRF checks: one agent for views, one for "
             "templates.")

    def views(a: Session) -> str:
        a.grep("csrf_exempt", ["shop/views/checkout.py", "shop/views/webhooks.py"],
               lead="I'll look for exempted views first.")
        a.read(f"{WEB}/shop/views/checkout.py", "@csrf_exempt\ndef apply_coupon(request):\n"
               "    code = request.POST['code']\n    return JsonResponse(cart.apply(code))")
        return "`apply_coupon` in shop/views/checkout.py is csrf_exempt; the webhook one is fine."

    def templates(a: Session) -> str:
        a.grep("<form", ["templates/checkout/coupon.html", "templates/checkout/pay.html"])
        return "templates/checkout/coupon.html posts without `{% csrf_token %}`."

    s.task("general-purpose", "Audit checkout views", "List every checkout view in shop/views that "
           "skips CSRF protection and say why.", views, model=SONNET45, layout="inline")
    s.task("general-purpose", "Audit checkout templates", "Find checkout templates whose forms "
           "post without a csrf_token.", templates, model=SONNET45, layout="inline")
    s.say("Two gaps: `apply_coupon` is csrf_exempt and the coupon form has no token.", out=380)
    s.prompt("Here's the access log from the incident; find the 403s on /checkout.", tokens=200)
    s.read(f"{WEB}/logs/access-incident.log", '10.0.0.7 - - "POST /checkout/coupon" 403 0\n'
           '10.0.0.9 - - "GET /checkout" 200 5120', tokens=186_000)
    s.say("412 of the 403s are POST /checkout/coupon, all after the 14:02 deploy.", out=520)
    files[s.path].insert(0, dumps({"type": "summary", "summary": "Checkout CSRF audit",
                                   "leafUuid": s.parent}))


def _flat_session(files: Files, now: datetime) -> None:
    s = _session(files, FLAT, WEB, "2.0.74", "main", now - timedelta(days=10, hours=6), OPUS45,
                 base=20_000, slug="tidy-humming-lark")
    s.warmup(HAIKU45, 1416, "Ready to search the webshop codebase read-only.", 41)
    s.warmup(OPUS45, 1543, "Ready to plan. What should we work on?", 23)
    u = s.prompt("Why does `Money.__str__` round half-even? Short answer please.")
    snapshot = {"messageId": u, "trackedFileBackups": {}, "timestamp": iso(s.t)}
    s.raw({"type": "file-history-snapshot", "messageId": u, "snapshot": snapshot,
           "isSnapshotUpdate": False})
    s.say("It uses `Decimal.quantize` with the context default, ROUND_HALF_EVEN; banker's "
          "rounding avoids an upward bias over many totals.", out=310,
          think="Simple question about Decimal rounding.")
    s.prompt("Rename `calc_total` to `compute_total` in shop/cart.py")
    s.edit(f"{WEB}/shop/cart.py", "def calc_total(self):", "def compute_total(self):")
    s.say("Renamed; it has no other callers.", out=40)
    s.prompt("List every place we format money by hand")

    def explore(a: Session) -> str:
        a.grep(r"f\"\{.*:.2f\}", ["shop/emails.py", "shop/invoices.py", "shop/views/cart.py"])
        a.read(f"{WEB}/shop/invoices.py", 'line = f"{item.total:.2f} EUR"')
        return "Three places: shop/emails.py, shop/invoices.py:41 and shop/views/cart.py:88."

    s.task("Explore", "Find manual money formatting", "Find every place that formats money with "
           "an f-string instead of format_money().", explore, model=HAIKU45, layout="flat")
    s.say("Three spots: emails, invoices and the cart view.", out=120)
    s.prompt("Replace them all with `format_money()`")
    s.synthetic('API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
                '"message":"Overloaded"}}')
    s.prompt("try again", gap=30)
    for f in ("shop/emails.py", "shop/invoices.py", "shop/views/cart.py"):
        s.edit(f"{WEB}/{f}", 'f"{total:.2f} EUR"', "format_money(total)")
    s.say("All three now call `format_money()`.", out=90)


def _switch_session(files: Files, now: datetime) -> None:
    s = _session(files, SWITCH, INFRA, "2.1.39", "feat/plan-guard",
                 now - timedelta(days=7, hours=5), OPUS46, ttl="1h", slug="brisk-copper-otter")
    s.hooks()
    ask = "Write a wrapper around terraform plan that fails if the plan destroys anything"
    s.raw({"type": "queue-operation", "operation": "enqueue", "timestamp": iso(s.t),
           "sessionId": s.sid, "content": ask})
    s.raw({"type": "queue-operation", "operation": "dequeue", "timestamp": iso(s.t),
           "sessionId": s.sid})
    s.prompt(ask)
    s.read(f"{INFRA}/bin/tf", '#!/usr/bin/env bash\nexec terraform "$@"')
    s.bash("terraform show -json plan.out | jq '[.resource_changes[] | "
           "select(.change.actions | index(\"delete\"))] | length'", "1")
    s.write(f"{INFRA}/bin/tf-plan-guard", "#!/usr/bin/env bash\nset -euo pipefail\n"
            "n=$(terraform show -json \"$1\" | jq '[.resource_changes[] | select(.change.actions"
            " | index(\"delete\"))] | length')\n[ \"$n\" -eq 0 ] || { echo \"plan destroys $n\"; "
            "exit 3; }")
    s.say("Added `bin/tf-plan-guard`: exits 3 when the plan deletes anything.", out=210)
    s.end_turn()
    s.prompt("Also print the addresses that would be destroyed", gap=1200)
    s.edit(f"{INFRA}/bin/tf-plan-guard", 'echo "plan destroys $n"',
           'echo "plan destroys $n:"; terraform show -json "$1" | jq -r \'.resource_changes[] | '
           'select(.change.actions | index("delete")) | .address\'')
    s.say("It now lists the doomed addresses before exiting.", out=150)
    s.end_turn()
    s.slash_model("sonnet", SONNET46)
    s.prompt("Add a --json flag that prints the destroy list as JSON")
    s.edit(f"{INFRA}/bin/tf-plan-guard", 'set -euo pipefail', 'set -euo pipefail\n'
           'json=0; [ "${1:-}" = --json ] && { json=1; shift; }')
    s.bash("bin/tf-plan-guard --json plan.out", '["aws_s3_bucket.logs"]')
    s.say("`--json` prints the list as a JSON array; exit codes unchanged.", out=180)
    s.end_turn()
    s.prompt("What exit code does it use when jq is missing?")
    s.say("127, from bash itself; `set -e` stops the script there.", out=70)
    s.end_turn()


def _skill_session(files: Files, now: datetime) -> None:
    s = _session(files, SKILL, ML, "2.1.39", "fix/backfill-partition",
                 now - timedelta(days=5, hours=6), OPUS46, slug="quiet-ember-finch")
    s.hooks("~/.claude/hooks/notify.sh start", "direnv export json")
    s.prompt("The feature-store backfill fails on the 2026-11 partition. Find out why and fix it.")
    ask = "Find where the backfill job computes partition keys and how it parses month strings."

    def explore(a: Session) -> str:
        a.grep("partition_key", ["src/pipeline/backfill.py", "src/pipeline/partitions.py"])
        a.read(f"{ML}/src/pipeline/partitions.py", "def month_key(s):\n"
               "    return datetime.strptime(s, '%Y-%d')")
        return "src/pipeline/partitions.py:2 parses months with '%Y-%d' instead of '%Y-%m'."

    s.task("Explore", "Find partition key logic", ask, explore, model=HAIKU45, layout="nested",
           progress=True, lead="Let me find the partition logic first.")
    s.skill("pytest-runner", HAIKU45, "# pytest-runner\nRun the narrowest failing test first, "
            "then the module. Report failures verbatim.", "I'll use the test-runner skill.")
    cmd, fail = "pytest tests/test_backfill.py -x -q", ("FAILED tests/test_backfill.py::"
                "test_november - ValueError: day is out of range for month\n1 failed in 2.10s")
    s.bash(cmd, fail, error=True, lead="Running the backfill tests.")
    s.bash(cmd, fail, error=True, lead="Let me run that again.")
    s.bash(cmd, fail, error=True, lead="Still failing; retrying.")
    s.read(f"{ML}/src/pipeline/partitions.py", "def month_key(s):\n"
           "    return datetime.strptime(s, '%Y-%d')")
    s.edit(f"{ML}/src/pipeline/partitions.py", "'%Y-%d'", "'%Y-%m'")
    s.bash(cmd, "12 passed in 3.41s")
    s.say("Fixed: `month_key` parsed the month as a day, so months above 12 failed.", out=260)
    s.end_turn()


def _health_session(files: Files, now: datetime) -> None:
    s = _session(files, HEALTH, INFRA, "2.1.90", "main", now - timedelta(days=2, hours=1), FABLE,
                 slug="odd-violet-heron")
    s.hooks()
    s.prompt(HOSTILE_PROMPT)
    s.say("Brackets like `[@click=...]` are console markup and `\\x1b[31m` is an ANSI colour "
          "code; escape both before rendering log text.", out=190,
          think="The user pasted markup and an escape sequence.")
    s.raw({"type": "mystery-future-type", "timestamp": iso(s.t), "sessionId": s.sid,
           "payload": {"note": "an entry type tiermon has never seen"}})
    s.raw('{"parentUuid":"' + str(s.parent) + '","isSidechain":false,"type":"assistant","mess')
    s.raw({"type": "ai-title", "aiTitle": "Markup in log viewer", "sessionId": s.sid})
    s.end_turn()


def _compact_session(files: Files, now: datetime) -> None:
    s = _session(files, COMPACT, ML, "2.1.90", "perf/epoch-time", now - timedelta(days=3, hours=4),
                 SONNET45, slug="steady-marble-crane")
    s.hooks()
    s.prompt("Epoch time doubled since last week. Profile the training loop and find the "
             "regression.")

    def history(a: Session) -> str:
        a.bash("git log --oneline --since=2.weeks -- src/pipeline/data.py",
               "4be81d2 data: simplify loader construction\n91c0a3e data: add shard filter")
        return "4be81d2 dropped `num_workers=8` from the DataLoader call."

    s.task("general-purpose", "Diff dataloader changes", "Summarise the last two weeks of changes "
           "to src/pipeline/data.py that could slow loading.", history, model=HAIKU45,
           layout="nested", alias="haiku")
    train = f"{ML}/src/pipeline/train.py"
    body = ("loader = DataLoader(ds, batch_size=256)\nfor epoch in range(epochs):\n"
            "    for batch in loader:\n        step(batch)")
    prof = "python -m cProfile -s cumtime train.py --epochs 1 | head -40"
    s.read(train, body, tokens=6_000)
    s.bash(prof, "ncalls  tottime  cumtime  filename:lineno\n1  412.3  980.1  dataloader.py:630",
           tokens=38_000)
    s.read(train, body, tokens=6_000, lead="Let me look at the loop again.")
    s.edit(train, "batch_size=256)", "batch_size=256, num_workers=8)")
    s.read(train, body.replace("256)", "256, num_workers=8)"), tokens=6_000,
           lead="Re-checking the file after the edit.")
    s.bash(prof, "ncalls  tottime  cumtime  filename:lineno\n1  98.7  470.2  dataloader.py:630",
           tokens=30_000)
    s.say("Restoring `num_workers=8` halves the epoch again (980 s -> 470 s).", out=240)
    s.end_turn()
    s.prompt("Back from lunch. Can we also pin the tokenizer threads?", gap=2520)
    s.edit(train, "import torch", "import os\nos.environ['TOKENIZERS_PARALLELISM'] = 'false'\n"
           "import torch")
    s.bash(prof, "ncalls  tottime  cumtime  filename:lineno\n1  91.2  455.0  dataloader.py:630",
           tokens=40_000)
    s.read(f"{ML}/src/pipeline/data.py", "def build(ds):\n    return ds.shard()", tokens=22_000)
    s.say("Pinned; epoch is 455 s, within noise of last week.", out=380)
    s.end_turn()
    s.tick(60)
    s.compact("Profiled train.py; restored num_workers=8 (epoch 980 s -> 470 s); pinned "
              "tokenizer threads. Next: a benchmark script.")
    s.prompt("Now write the benchmark script we discussed.", gap=5)
    s.write(f"{ML}/scripts/bench_epoch.py", "import time, subprocess\nt = time.time()\n"
            "subprocess.run(['python', 'train.py', '--epochs', '1'], check=True)\n"
            "print(f'{time.time() - t:.0f}s')")
    s.say("Added scripts/bench_epoch.py; it prints one epoch's wall time.", out=120)
    s.end_turn()


def _downgrade_session(files: Files, now: datetime) -> None:
    s = _session(files, DOWNGRADE, WEB, "2.1.90", "feat/coupons", now - timedelta(days=1, hours=2),
                 OPUS46, slug="amber-lively-wren")
    s.hooks()
    form, coupons = f"{WEB}/templates/checkout/pay.html", f"{WEB}/shop/coupons.py"
    s.prompt("Add a coupon code field to the checkout form")
    s.read(form, '<form method="post">{% csrf_token %}\n  {{ form.card }}\n</form>')
    s.edit(form, "{{ form.card }}", "{{ form.card }}\n  {{ form.coupon }}")
    s.say("Added the coupon field under the card input.", out=110)
    s.end_turn()
    s.model = HAIKU45  # automatic downgrade: nothing but the next prompt in between
    turns = [
        ("Now reject expired coupons at checkout", "I added the expiry check in "
         "`validate_coupon()`. Should I also update the tests?"),
        ("yes", "Tests updated. Want me to run the test suite?"),
        ("ok", "All 48 tests pass. Should the error message be translated as well?"),
        ("use the existing i18n key coupon.expired and add German and French strings",
         "Added the de and fr strings. Shall I add a migration for `expires_at`?"),
        ("go ahead", "Migration 0031 added. Do you want me to commit these changes?"),
        ("yes", "Committed as `coupons: reject expired codes`."),
    ]
    work: list[Callable[[], None]] = [
        lambda: s.edit(coupons, "if coupon.used:", "if coupon.used or coupon.expired:"),
        lambda: s.edit(f"{WEB}/tests/test_coupons.py", "# expiry", "def test_expired(): ..."),
        lambda: s.bash("pytest -q tests/test_coupons.py", "48 passed in 1.92s"),
        lambda: s.edit(f"{WEB}/locale/de/LC_MESSAGES/django.po", 'msgid "coupon.expired"',
                       'msgid "coupon.expired"\nmsgstr "Gutschein abgelaufen"'),
        lambda: s.write(f"{WEB}/shop/migrations/0031_coupon_expires_at.py", "# AddField"),
        lambda: s.bash("git commit -am 'coupons: reject expired codes'", "[feat/coupons 3f9e2a1]"),
    ]
    for (ask, reply), step in zip(turns, work, strict=True):
        s.prompt(ask, gap=25)
        step()
        s.say(reply, out=90)
        s.end_turn()


def _live_session(files: Files, now: datetime) -> Session:
    s = _session(files, LIVE, WEB, "2.1.90", "perf/cart", now - timedelta(minutes=6), OPUS46,
                 base=21_000, slug="swift-cedar-lynx")
    s.hooks()
    s.prompt("The cart page takes 2 s to render. Find out why.")
    s.read(f"{WEB}/shop/views/cart.py", "def cart(request):\n    for line in cart.lines:\n"
           "        line.quote = shipping.get_quote(line)", tokens=3_000)
    s.bash("pytest tests/test_cart.py -q --durations=3", "1.84s call test_cart_render\n"
           "3 passed in 2.31s", tokens=900)
    s.say("`get_quote()` is called once per cart line, each a 150 ms HTTP call.", out=420,
          think="N+1 calls to the shipping API.")
    s.end_turn()
    s.prompt("Batch the quote calls per cart", gap=60)
    s.edit(f"{WEB}/shop/views/cart.py", "line.quote = shipping.get_quote(line)",
           "quotes = shipping.get_quotes(cart.lines)")
    s.bash("pytest tests/test_cart.py -q --durations=3", "0.21s call test_cart_render\n"
           "3 passed in 0.64s", tokens=900)
    s.say("One batched call now; render is down to 0.21 s.", out=180)
    s.end_turn()
    return s


def _api_usage(inp: int, out: int, read: int = 0, write: int = 0, tier: str = "standard") -> Json:
    return {"input_tokens": inp, "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": out, "service_tier": tier, "inference_geo": "global"}


def _message(ids: Ids, model: str, reply: str, usage: Json) -> Json:
    return {"id": "msg_01" + ids.b58(22), "type": "message", "role": "assistant", "model": model,
            "content": [text(reply)], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": usage}


def _api_logs(files: Files, now: datetime) -> None:
    """Three API log files: a wrapped app log, batch results, and tiermon middleware lines."""
    ids = Ids("api-logs")
    bot: list[str] = []
    replies = [(HAIKU45, "You can reset your password from Settings > Security.", 412, 38, 0),
               (HAIKU45, "Refunds reach your card within 5-7 business days.", 398, 41, 2048),
               (SONNET45, "I've escalated order 10482 to a human agent.", 1210, 96, 2048),
               (HAIKU45, "Your parcel left the depot this morning.", 405, 29, 2048),
               (HAIKU45, "Coupons can't be combined with sale items.", 420, 33, 2048),
               (SONNET46, "Here is a summary of the three open tickets.", 2890, 240, 0)]
    for n, (model, reply, inp, out, read) in enumerate(replies):
        ts = now - timedelta(days=12 - 2 * n, hours=3, minutes=7 * n)
        body = _message(ids, model, reply, _api_usage(inp, out, read, 0 if read else 2048))
        bot.append(dumps({"ts": iso(ts), "request_id": "req_011C" + ids.b58(20),
                          "app": "support-bot", "response": body}))
    for reply in ("Opening hours are 9-17 CET.", "Your account is verified."):
        bot.append(dumps(_message(ids, HAIKU45, reply, _api_usage(390, 22, 2048))))
    batch = [dumps({"custom_id": f"triage-{n:04d}", "result": {"type": "succeeded", "message":
                    _message(ids, HAIKU45, label, _api_usage(610 + n, 4, tier="batch"))}})
             for n, label in enumerate(("billing", "shipping", "bug", "billing"), 1)]
    batch.append(dumps({"custom_id": "triage-0005", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "invalid_request_error",
                                   "message": "max_tokens: must be at least 1"}}}}))
    mw: list[str] = []
    for n, (model, inp, out, ms) in enumerate([(SONNET46, 5210, 640, 812.5),
                                               (OPUS46, 9120, 1310, 2406.0),
                                               (HAIKU45, 1830, 120, 301.25),
                                               (SONNET46, 5198, 702, 934.75)]):
        ts = now - timedelta(days=4 - n, hours=2)
        resp = {"id": "msg_01" + ids.b58(22), "type": "message", "model": model,
                "usage": _api_usage(inp, out), "stop_reason": "end_turn"}
        mw.append(dumps({"ts": iso(ts), "request_id": "req_011C" + ids.b58(20),
                         "app": "nightly-eval", "status": 200, "latency_ms": ms,
                         "stream": n == 1, "response": resp}))
    mw.insert(2, dumps({"ts": iso(now - timedelta(days=3, hours=1)), "request_id": "req_011C"
                        + ids.b58(20), "app": "nightly-eval", "status": 529, "latency_ms": 15012.0,
                        "stream": False, "model": SONNET46,
                        "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    files.update({"api/support-bot.jsonl": bot, "api/batch-results.jsonl": batch,
                  "api/middleware.jsonl": mw})


def _build(now: datetime) -> Files:
    files: Files = {}
    for build in (_inline_session, _flat_session, _switch_session, _skill_session,
                  _health_session, _compact_session, _downgrade_session, _live_session,
                  _api_logs):
        build(files, now)
    return files


def generate(out_dir: Path, *, now: datetime | None = None) -> list[Path]:
    """Write the sample config dir to out_dir/claude/... and out_dir/api/...; return files written.

    `now` (aware UTC) anchors timestamps: sessions spread over the 14 days before it, and the live
    session's last activity is a few minutes before it. Defaults to DEFAULT_NOW.
    """
    written = []
    for rel, lines in sorted(_build(now or DEFAULT_NOW).items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        written.append(path)
    return written


def _feature(s: Session, n: int) -> Iterator[None]:
    view, old = f"{WEB}/shop/views/cart.py", "quotes = shipping.get_quotes(cart.lines)"
    s.prompt(f"Now memoise the shipping quotes per cart (round {n})", gap=8)
    yield
    s.read(view, old, tokens=6_000 + 3_000 * n)
    yield
    s.edit(view, old, "quotes = quote_cache.get_or_set(cart.key, lambda: "
           "shipping.get_quotes(cart.lines))")
    yield
    s.say("Quotes are cached per cart key for 60 s.", out=220, think="Cache keyed by cart.")
    s.end_turn()
    yield


def _explore(s: Session) -> Iterator[None]:
    s.prompt("Are there other callers of get_quote outside the cart?", gap=6)
    yield
    ask = "Find every caller of shipping.get_quote outside shop/views/cart.py."
    tid, a = s.start_task("Explore", "Find get_quote callers", ask, model=HAIKU45,
                          layout="nested", lead="I'll send an Explore agent.")
    yield
    a.grep("get_quote", ["shop/emails.py", "shop/api/orders.py"])
    s.agent_progress(a, tid, ask)
    yield
    a.read(f"{WEB}/shop/api/orders.py", "quote = shipping.get_quote(order.lines[0])",
           tokens=1_500)
    s.agent_progress(a, tid, ask)
    yield
    s.finish_task(tid, a, "Two callers: shop/emails.py:33 and shop/api/orders.py:57.")
    yield
    s.say("Two more callers; both quote a single line, so batching doesn't apply.", out=160)
    s.end_turn()
    yield


def _thrash(s: Session) -> Iterator[None]:
    s.prompt("Run the cart tests", gap=7)
    yield
    cmd = "npm test -- --run cart"
    fail = "FAIL src/cart/Cart.test.tsx\n  x renders quotes (42 ms)\nTests: 1 failed, 11 passed"
    for lead in ("Running the cart tests.", "Let me run that again.", "Retrying the tests."):
        s.bash(cmd, fail, error=True, lead=lead, tokens=2_000)
        yield
    s.edit(f"{WEB}/src/cart/Cart.test.tsx", "quote: 4.9", "quotes: [4.9]")
    yield
    s.bash(cmd, "Tests: 12 passed", tokens=300)
    yield
    s.say("The test fixture still used the old `quote` field; fixed.", out=140)
    s.end_turn()
    yield


def _switch(s: Session, alias: str, full: str) -> Iterator[None]:
    s.slash_model(alias, full)
    yield
    s.prompt(f"Summarise what changed on this branch so far ({alias})", gap=5)
    yield
    s.say("Quotes are batched and cached per cart; the cart test fixture is fixed.", out=200)
    s.end_turn()
    yield


def _churn(s: Session) -> Iterator[None]:
    for ask, reply in [("Add a loading spinner to the quote box", "Done. Should I add a test?"),
                       ("yes", "Test added. Want me to run the suite?"),
                       ("ok", "12 passed. Shall I commit?"), ("go ahead", "Committed.")]:
        s.prompt(ask, gap=6)
        yield
        s.say(reply, out=70)
        s.end_turn()
        yield


def _live_story(s: Session) -> Iterator[None]:
    """The demo's endless loop: work, an agent, a thrash, /model sonnet, churn, /model opus."""
    for n in itertools.count(1):
        yield from _feature(s, n)
        yield from _explore(s)
        yield from _thrash(s)
        yield from _switch(s, "sonnet", SONNET46)
        yield from _churn(s)
        yield from _switch(s, "opus", OPUS46)
        if s.cached > 300_000:
            s.compact("Batched and cached shipping quotes; fixed the cart test.")
            yield


def live_script(out_dir: Path, *, now: datetime) -> Iterator[tuple[Path, list[str]]]:
    """Endless, deterministic appends that continue the live session of generate(out_dir, now=now).

    Each step is (file, lines) with at most two lines, so a streamed response arrives over several
    steps (placeholder usage first). Timestamps advance from `now` by a few seconds per step. A
    step may name a new subagent file; its folder is created before the step is yielded.
    """
    files: Files = {}
    s = _live_session(files, now)
    seen = {rel: len(lines) for rel, lines in files.items()}
    s.t = max(s.t, now)
    for _ in _live_story(s):  # each pause: hand over what the last operation wrote
        for rel, lines in list(files.items()):
            new, seen[rel] = lines[seen.get(rel, 0):], len(lines)
            if new:  # a new subagent file may live in a new folder
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            for i in range(0, len(new), 2):
                yield out_dir / rel, new[i:i + 2]


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for sub in ("claude", "api"):
        shutil.rmtree(here / sub, ignore_errors=True)
    for p in generate(here):
        print(p.relative_to(here))
