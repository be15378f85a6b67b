"""A builder of hand-made Claude Code conversations for the signal tests (no tests of its own).

`Chat` writes lines shaped like real 2.1.x transcripts (FORMATS.md §1): one
assistant line per content block with usage, tool results as user entries with
`toolUseResult`, `/model` as a command entry and its ANSI "Set model to"
stdout, compactions as `compact_boundary` plus an `isCompactSummary` entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary
from transcripts import assistant, envelope, prompt, ts, usage, write

S = "5e551011-aaaa-4bbb-8ccc-000000000001"
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
PROJECT = "-home-dev-shop"


class Chat:
    """One chain of a session (the main conversation, or a subagent with `agent`), in time order."""

    def __init__(self, session: str = S, model: str = OPUS, *, start: float = 0.0, agent: str | None = None,
                 ctx: int = 20_000, version: str = "2.1.39") -> None:  # fmt: skip
        self.session, self.model, self.t, self.agent, self.ctx, self.version = (
            session,
            model,
            start,
            agent,
            ctx,
            version,
        )
        self.lines: list[dict[str, Any]] = []
        self.n = 0
        self.tag = agent or "m"

    # -- plumbing ------------------------------------------------------------------

    def _id(self) -> str:
        self.n += 1
        return f"{self.tag}-{self.session}-{self.n:04d}"

    def _env(self) -> dict[str, Any]:
        return {"sidechain": self.agent is not None, "agent": self.agent, "version": self.version}

    def tick(self, seconds: float = 2.0) -> float:
        self.t += seconds
        return self.t

    def idle(self, seconds: float) -> Chat:
        self.t += seconds
        return self

    def block(self, block: dict[str, Any], *, model: str | None = None, out: int = 100, ctx: int | None = None,
              w5: int = 0, w1h: int = 0) -> Chat:  # fmt: skip
        """One API response holding one content block; context = input + cache read + writes."""
        ctx = self.ctx if ctx is None else ctx
        uid = self._id()
        u = usage(inp=10, out=out, read=max(ctx - 10 - w5 - w1h, 0), w5=w5, w1h=w1h)
        self.lines.append(assistant(self.session, uid, self.tick(), f"msg_{uid}", f"req_{uid}", model or self.model, u,
                                    block, **self._env()))  # fmt: skip
        return self

    def user(self, content: Any, **extra: Any) -> Chat:
        e = envelope(self.session, self._id(), self.tick(1.0), **self._env())
        e.update({"type": "user", "message": {"role": "user", "content": content}, **extra})
        self.lines.append(e)
        return self

    # -- what people and models do --------------------------------------------------

    def prompt(self, text: str) -> Chat:
        self.lines.append(prompt(self.session, self._id(), self.tick(5.0), text, **self._env()))
        return self

    def say(self, text: str, **kw: Any) -> Chat:
        return self.block({"type": "text", "text": text}, **kw)

    def tool(
        self, name: str, inp: dict[str, Any], *, error: bool = False, result: Any = None, **kw: Any
    ) -> str:
        """A tool call and its result; returns the tool_use id."""
        tid = f"toolu_{self.tag}{self.n + 1:04d}{self.session[-4:]}"
        self.block({"type": "tool_use", "id": tid, "name": name, "input": inp}, **kw)
        content = "Error: exit code 1" if error else "ok"
        block: dict[str, Any] = {"tool_use_id": tid, "type": "tool_result", "content": content}
        if error:
            block["is_error"] = True
        extra = {
            "toolUseResult": result
            if result is not None
            else {"stdout": content, "stderr": "", "interrupted": False}
        }
        self.user([block], **extra)
        return tid

    def batch(self, commands: list[str], *, failed: int | None = None, model: str | None = None,
              ctx: int | None = None) -> list[str]:  # fmt: skip
        """One response issuing several Bash calls at once (a parallel batch): one line per block, as
        Claude Code writes it. With `failed=i`, call i fails and its siblings are cancelled
        ("Sibling tool call errored", is_error true), as Claude Code does."""
        uid = self._id()
        ctx = self.ctx if ctx is None else ctx
        u = usage(inp=10, out=100, read=max(ctx - 10, 0))
        ids = [f"toolu_{self.tag}{self.n:04d}b{i}{self.session[-4:]}" for i in range(len(commands))]
        for tid, command in zip(ids, commands, strict=True):
            call = {"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": command}}
            self.lines.append(assistant(self.session, f"{uid}-{tid}", self.tick(0.1), f"msg_{uid}", f"req_{uid}",
                                        model or self.model, u, call, **self._env()))  # fmt: skip
        for i, tid in enumerate(ids):
            error = failed is not None
            text = "Exit code 1" if i == failed else "<tool_use_error>Sibling tool call errored</tool_use_error>"
            block: dict[str, Any] = {"tool_use_id": tid, "type": "tool_result", "content": text if error else "ok"}
            if error:
                block["is_error"] = True
            self.user([block], toolUseResult=f"Error: {text}" if error else {"stdout": "ok"})
        return ids

    def bash(self, command: str, *, error: bool = False, **kw: Any) -> str:
        return self.tool("Bash", {"command": command, "description": "run"}, error=error, **kw)

    def read(self, path: str, **kw: Any) -> str:
        return self.tool("Read", {"file_path": path}, **kw)

    def ask(self, question: str = "Which option do you prefer?", **kw: Any) -> str:
        return self.tool("AskUserQuestion", {"questions": [{"question": question}]}, **kw)

    def skill(self, name: str, skill_model: str, **kw: Any) -> str:
        """A Skill whose frontmatter names a model: its result carries `toolUseResult.model`."""
        result = {"success": True, "commandName": name, "model": skill_model}
        return self.tool("Skill", {"skill": name}, result=result, **kw)

    def task(self, agent_id: str, subagent_type: str, description: str = "Look around", *, model: str | None = None,
             **kw: Any) -> str:  # fmt: skip
        inp = {"description": description, "prompt": "Go and look.", "subagent_type": subagent_type}
        if model:
            inp["model"] = model
        return self.tool(
            "Task", inp, result={"status": "completed", "agentId": agent_id, "totalTokens": 1}, **kw
        )

    def model_command(self, arg: str) -> Chat:
        """`/model <arg>` as Claude Code logs it: caveat, command, ANSI stdout."""
        self.user("<local-command-caveat>Caveat: local command</local-command-caveat>", isMeta=True)
        self.user(f"<command-name>/model</command-name>\n            <command-message>model</command-message>\n"
                  f"            <command-args>{arg}</command-args>")  # fmt: skip
        return self.user(
            f"<local-command-stdout>Set model to \u001b[1m{arg}\u001b[22m</local-command-stdout>"
        )

    def compact(self, pre_tokens: int = 150_000, trigger: str = "auto") -> Chat:
        e = envelope(self.session, self._id(), self.tick(), **self._env())
        e.update({"type": "system", "subtype": "compact_boundary", "content": "Conversation compacted",
                  "isMeta": False, "level": "info", "compactMetadata": {"trigger": trigger, "preTokens": pre_tokens}})  # fmt: skip
        self.lines.append(e)
        return self.user("This session is being continued from a previous conversation…", isCompactSummary=True,
                         isVisibleInTranscriptOnly=True)  # fmt: skip

    def api_error(self, text: str = "API Error: Request was aborted.") -> Chat:
        uid = self._id()
        e = envelope(self.session, uid, self.tick(), **self._env())
        e.update({"type": "assistant", "isApiErrorMessage": True,
                  "message": {"id": f"err-{uid}", "model": "<synthetic>", "role": "assistant", "type": "message",
                              "content": [{"type": "text", "text": text}],
                              "usage": {"input_tokens": 0, "output_tokens": 0}}})  # fmt: skip
        self.lines.append(e)
        return self

    # -- output ----------------------------------------------------------------------

    def save(self, path: Path, *, mode: str = "w") -> Path:
        write(path, self.lines, mode=mode)
        return path

    def take(self) -> list[dict[str, Any]]:
        """The lines written since the last take (for appending to a live file)."""
        lines, self.lines = self.lines, []
        return lines


def main_file(root: Path, session: str = S) -> Path:
    return root / "projects" / PROJECT / f"{session}.jsonl"


def agent_file(root: Path, agent_id: str, session: str = S) -> Path:
    return root / "projects" / PROJECT / session / "subagents" / f"agent-{agent_id}.jsonl"


def write_meta(
    root: Path, agent_id: str, agent_type: str, session: str = S, tool_use_id: str | None = None
) -> None:
    path = root / "projects" / PROJECT / session / "subagents" / f"agent-{agent_id}.meta.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"agentType": agent_type, "description": "from meta", "toolUseId": tool_use_id})
    )


def ingest(root: Path, db: Path) -> IngestSummary:
    return Ingestor(load_settings(db=db, sources=[root])).run()


def read(db: Path, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a views function on a read-only store."""
    with Store.open(db, read_only=True) as store:
        return func(store, *args, **kwargs)


__all__ = [
    "HAIKU",
    "OPUS",
    "SONNET",
    "Chat",
    "S",
    "agent_file",
    "ingest",
    "main_file",
    "read",
    "ts",
    "write_meta",
]
