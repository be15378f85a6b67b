"""Codex tool calls and outputs -> tool names, summaries and exit status (formats/codex.md §3.5, §5).

A shell call is `shell` (≤0.7x: `command` is argv, output a JSON string with
`metadata.exit_code`) or `exec_command` (unified exec: `cmd` is a string, the
output text says `Process exited with code N`, or `Process running with
session ID N` when the exit comes later in a `write_stdin` output or an
`exec_command_end` event). `apply_patch` is a freeform `custom_tool_call`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tiermon.ingest.rows import SUMMARY_LIMIT, TOOL_SHELL
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.codex.records import ANY_DECODER

SHELL_TOOLS = frozenset({"shell", "exec_command", "local_shell_call", "container.exec", "shell_command"})
"""Codex tool names that run a shell command: stored as TOOL_SHELL so command thrash sees them."""
SPAWN_TOOL = "Agent"
"""TOOL_SPAWN name for `spawn_agent`."""
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "fish", "pwsh", "powershell"})
_EXITED = re.compile(r"Process exited with code (-?\d+)")
_RUNNING = re.compile(r"Process running with session ID (\d+)")
_FAILED = re.compile(r"^[\w.-]+ failed: ")
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.M)


def arguments(raw: object) -> dict[str, Any]:
    """A function call's `arguments` (a JSON string, or already an object); {} when unreadable."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            value = ANY_DECODER.decode(raw)
        except msgspec.DecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def tool_name(name: str, namespace: object) -> str:
    """The row's tool name: TOOL_SHELL for shells, `Agent` for spawns, MCP tools with their namespace."""
    if name in SHELL_TOOLS:
        return TOOL_SHELL
    if name == "spawn_agent":
        return SPAWN_TOOL
    if isinstance(namespace, str) and namespace and not name.startswith(namespace):
        return f"{namespace}{name}" if namespace.endswith("_") else f"{namespace}.{name}"
    return name


def command_text(command: object) -> str | None:
    """A shell command as one line: argv `[bash, -lc, script]` is its script; whitespace collapsed."""
    if isinstance(command, list) and all(isinstance(part, str) for part in command):
        parts: list[str] = command
        if len(parts) >= 3 and parts[0].rsplit("/", 1)[-1] in _SHELLS and parts[1] in ("-lc", "-c", "-l"):
            text = " ".join(parts[2:])
        else:
            text = " ".join(parts)
    elif isinstance(command, str):
        text = command
    else:
        return None
    return clean_text(" ".join(text.split()))[:SUMMARY_LIMIT] or None


def call_summary(name: str, args: dict[str, Any], raw: object) -> str | None:
    """What a tool call did, short: the command, the path, the query, else the start of its input."""
    if name in SHELL_TOOLS:
        return command_text(args.get("cmd", args.get("command")))
    for key in ("path", "file_path", "query", "url", "message", "task", "prompt"):
        value = args.get(key)
        if isinstance(value, str) and value:
            return clean_text(" ".join(value.split()))[:SUMMARY_LIMIT]
    if isinstance(raw, str) and raw:
        return clean_text(" ".join(raw[: SUMMARY_LIMIT * 2].split()))[:SUMMARY_LIMIT]
    return None


def patch_summary(text: object) -> str | None:
    """The files an `apply_patch` input touches, else its first line."""
    if not isinstance(text, str) or not text:
        return None
    files = _PATCH_FILE.findall(text[:20000])
    summary = ", ".join(f.strip() for f in files) if files else text.strip().split("\n", 1)[0]
    return clean_text(summary)[:SUMMARY_LIMIT] or None


def output_text(output: object) -> str:
    """A tool output as text: a string, or the text parts of a content list."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
    if isinstance(output, dict):
        inner = output.get("content", output.get("output"))
        return inner if isinstance(inner, str) else ""
    return ""


class Outcome(msgspec.Struct, frozen=True):
    """What a tool output says about the call: an exit code, a failure without one, or still running."""

    code: int | None = None
    failed: bool = False
    running: str | None = None

    @property
    def is_error(self) -> bool:
        return self.failed or (self.code is not None and self.code != 0)

    @property
    def known(self) -> bool:
        """The call's result is final (not a process that keeps running)."""
        return self.running is None


def outcome(text: str) -> Outcome:
    """Exit status from `shell` JSON metadata, unified-exec text, or a `<tool> failed:` message."""
    head = text[:4000]
    if head.startswith("{"):
        code = _json_exit_code(text)
        if code is not None:
            return Outcome(code=code)
    exited = _EXITED.search(head)
    if exited:
        return Outcome(code=int(exited.group(1)))
    running = _RUNNING.search(head)
    if running:
        return Outcome(running=running.group(1))
    return Outcome(failed=bool(_FAILED.match(head)))


class _ShellOutput(msgspec.Struct):
    """A `shell` output's JSON: only `metadata` is built; the output text in it is skipped."""

    metadata: Any = None


_SHELL_OUTPUT = msgspec.json.Decoder(_ShellOutput)


def _json_exit_code(text: str) -> int | None:
    try:
        meta = _SHELL_OUTPUT.decode(text).metadata
    except msgspec.DecodeError:  # not JSON, or not an object
        return None
    code = meta.get("exit_code") if isinstance(meta, dict) else None
    return code if type(code) is int else None


def error_text(text: str) -> str:
    """The start of a failed output, for the timeline: never a whole output."""
    return clean_text(" ".join(text[: SUMMARY_LIMIT * 4].split()))[:SUMMARY_LIMIT]
