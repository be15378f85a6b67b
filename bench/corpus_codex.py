"""Deterministic synthetic Codex CLI rollouts, shaped like real ones, for the benchmark.

`generate(root, size)` writes `root/sessions/YYYY/MM/DD/rollout-<time>-<uuidv7>.jsonl`
(a Codex home) and returns a manifest with the ground truth: model requests
and their tokens per model, counted by formats/codex.md §4.1. Three eras are
mixed, as in the real files (MANIFEST #16-18):

- 0.58 (Nov 2025): a `turn_context` per request, every request's `token_count`
  written twice (the copy after the next request's `turn_context`, the first an
  `info: null` line), `rate_limits` with `resets_at`, the `shell` tool with JSON
  outputs, `agent_reasoning` events;
- 0.104 (Feb 2026): as 0.58 with `task_started`/`task_complete`, `limit_id`,
  unified exec (`exec_command`/`write_stdin`, text outputs);
- 0.125 (May 2026): one `turn_context` per turn (with the instructions, ~3 KB),
  one `token_count` per request, `rate_limits: null`, a 20 KB
  `base_instructions` in `session_meta`, developer messages, persisted
  `exec_command_end` events that repeat the command's output.

Bytes are dominated, as in real rollouts, by tool outputs (and the end events
that repeat them) and `reasoning` items with `encrypted_content`. Some
sessions switch model at a turn boundary; long ones compact (a `compacted`
line, `context_compacted`, and the marker `token_count` that adds nothing).

The same (size, seed) always produces the same bytes.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
"""Bumped when the output changes, so a cached corpus is regenerated."""

MODELS = {"gpt-5.1-codex": 35, "gpt-5.5": 25, "gpt-5.2-codex": 20, "gpt-5-codex": 10, "gpt-5.1-codex-mini": 10}
"""Model id -> weight as a session's model."""
ERAS = [("0.58.0", "codex_cli_rs", 40), ("0.104.0", "codex_cli_rs", 25), ("0.125.0", "codex-tui", 35)]
"""(cli_version, originator, weight)."""
WINDOW = 258_400
"""`model_context_window` Codex records (272k × 0.95)."""
T_START = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
SPAN_DAYS = 75
COMMANDS = [
    "rg -n 'parse_chunk' ingest", "sed -n '1,200p' ingest/tailer.py", "ls -la", "git status --short",
    "pytest -q tests/test_tailer.py", "npm test", "cat pyproject.toml", "rg --files | head -50",
    "git diff --stat", "python -m mypy ingest", "sed -n '200,420p' src/app/main.ts", "make build",
]  # fmt: skip
_WORDS = (  # noqa: SIM905 - a word list that reads as text
    "def class return import self value config error warning test result module function file path line "
    "data cache token model session request response parse build index query table column row offset "
    "PASSED FAILED ok src/ tests/ .py .ts { } ( ) [ ] : ; , . = == -> + - * / % < > | & ! ? @ # "
    "0 1 2 42 100 255 1024 true false null None é → ✓ ✗"
).split()


def _escaped_pool(rng: random.Random, chars: int) -> str:
    """JSON-escaped tool-output-like text: words, punctuation, newlines, tabs and quotes, no backslashes."""
    parts: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(_WORDS)
        r = rng.random()
        sep = "\n" if r < 0.12 else ("\t" if r < 0.13 else ('"' if r < 0.15 else " "))
        parts.append(w + sep)
        n += len(w) + 1
    return json.dumps("".join(parts), ensure_ascii=False)[1:-1]


def _escape(text: str) -> str:
    """Escaped JSON text escaped once more, to sit inside a JSON string (a `shell` output's JSON)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class Totals:
    """One model's requests and tokens as tiermon stores them: input without cached, output with reasoning."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class Manifest:
    """What was generated; `models` is the ground truth a correct ingest must reproduce."""

    size: int
    seed: int
    version: int = GENERATOR_VERSION
    files: int = 0
    bytes: int = 0
    lines: int = 0
    largest_file: int = 0
    sessions_by_era: Counter[str] = field(default_factory=Counter)
    lines_by_type: Counter[str] = field(default_factory=Counter)
    bytes_by_type: Counter[str] = field(default_factory=Counter)
    models: dict[str, Totals] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "models"}
        for key in ("sessions_by_era", "lines_by_type", "bytes_by_type"):
            out[key] = dict(getattr(self, key).most_common())
        out["models"] = {m: t.__dict__ for m, t in sorted(self.models.items())}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        m = cls(size=data["size"], seed=data["seed"])
        for key, value in data.items():
            if key == "models":
                m.models = {name: Totals(**t) for name, t in value.items()}
            elif key in ("sessions_by_era", "lines_by_type", "bytes_by_type"):
                setattr(m, key, Counter(value))
            else:
                setattr(m, key, value)
        return m

    def totals(self) -> Totals:
        out = Totals()
        for t in self.models.values():
            for k in out.__dict__:
                setattr(out, k, getattr(out, k) + getattr(t, k))
        return out


class Generator:
    def __init__(self, root: Path, size: int, seed: int) -> None:
        self.root = root
        self.size = size
        self.rng = random.Random(seed)
        self.pool = _escaped_pool(self.rng, 3_000_000)
        self.cipher = base64.urlsafe_b64encode(self.rng.randbytes(1_500_000)).decode()
        self.manifest = Manifest(size=size, seed=seed)
        self.projects = [f"/home/dev/work/proj-{i:02d}" for i in range(24)]
        self.instructions = self.text(20_000)
        self.bytes = 0

    # -- primitives ---------------------------------------------------------------

    def text(self, chars: int) -> str:
        """`chars` characters of escaped filler, safe to paste between JSON quotes."""
        pool = self.pool
        chars = max(1, min(chars, len(pool) - 2))
        start = self.rng.randrange(0, len(pool) - chars)
        if start and pool[start - 1] == "\\":
            start += 1
        s = pool[start : start + chars]
        return s[:-1] if s.endswith("\\") else s

    def encrypted(self, chars: int) -> str:
        chars = max(64, min(chars, len(self.cipher)))
        start = self.rng.randrange(0, len(self.cipher) - chars + 1)
        return "gAAAAAB" + self.cipher[start : start + chars]

    def heavy(self, median: int, cap: int) -> int:
        """A heavy-tailed size: lognormal around `median`, capped."""
        return int(min(cap, max(20, self.rng.lognormvariate(0, 1.1) * median)))

    def uuid7(self, ms: int) -> str:
        h = f"{ms:012x}{self.rng.getrandbits(80):020x}"
        return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def call_id(self) -> str:
        return f"call_{self.rng.getrandbits(120):030x}"

    @staticmethod
    def ts(ms: int) -> str:
        t = time.gmtime(ms // 1000)
        return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"

    # -- layout -------------------------------------------------------------------

    def run(self) -> Manifest:
        started = time.perf_counter()
        while self.bytes < self.size:
            self.session()
        self.manifest.seconds = round(time.perf_counter() - started, 2)
        return self.manifest

    def session(self) -> None:
        rng = self.rng
        version, originator = rng.choices([(v, o) for v, o, _ in ERAS], [w for *_, w in ERAS])[0]
        start = T_START + rng.randrange(SPAN_DAYS * 86_400_000)
        r = _Rollout(self, version, originator, start)
        r.run(self.heavy(400_000, 30_000_000))
        t = time.gmtime(start // 1000)
        name = f"rollout-{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}-{t.tm_min:02d}-{t.tm_sec:02d}-{r.thread}.jsonl"
        path = self.root / "sessions" / f"{t.tm_year:04d}" / f"{t.tm_mon:02d}" / f"{t.tm_mday:02d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "\n".join(r.lines).encode() + b"\n"
        path.write_bytes(data)
        m = self.manifest
        m.files += 1
        m.bytes += len(data)
        m.lines += len(r.lines)
        m.largest_file = max(m.largest_file, len(data))
        m.sessions_by_era[version] += 1
        self.bytes += len(data)

    def count(self, kind: str, line: str) -> None:
        self.manifest.lines_by_type[kind] += 1
        self.manifest.bytes_by_type[kind] += len(line) + 1

    def record(self, model: str, inp: int, cached: int, out: int, reasoning: int) -> None:
        """Ground truth: one counted model request."""
        t = self.manifest.models.setdefault(model, Totals())
        t.requests += 1
        t.input_tokens += inp - cached
        t.cache_read_tokens += cached
        t.output_tokens += out
        t.reasoning_tokens += reasoning


class _Rollout:
    """One thread's rollout file."""

    def __init__(self, gen: Generator, version: str, originator: str, start: int) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.version = version
        self.originator = originator
        self.now = start
        self.thread = gen.uuid7(start)
        self.cwd = self.rng.choice(gen.projects)
        self.model = self.rng.choices(list(MODELS), list(MODELS.values()))[0]
        self.lines: list[str] = []
        self.size = 0
        self.per_request_context = version != "0.125.0"
        self.twice = version != "0.125.0"
        self.shell = version == "0.58.0"
        self.extended = version == "0.125.0"
        self.tasks = version != "0.58.0"
        self.total = [0, 0, 0, 0, 0]  # input, cached, output, reasoning, total
        self.last_info: str | None = None
        self.context = self.rng.randrange(9_000, 24_000)
        self.prev_input = 0
        self.used = [self.rng.uniform(0, 40), self.rng.uniform(0, 60)]
        self.resets = [start // 1000 + 3 * 3600, start // 1000 + 5 * 86_400]
        self.turn_id = ""
        self.exec_session = 40_000

    # -- envelope -----------------------------------------------------------------

    def tick(self, lo: int = 50, hi: int = 4_000) -> str:
        self.now += self.rng.randrange(lo, hi)
        return Generator.ts(self.now)

    def add(self, kind: str, payload: str, sub: str | None = None) -> None:
        line = f'{{"timestamp":"{self.tick()}","type":"{kind}","payload":{payload}}}'
        self.lines.append(line)
        self.size += len(line) + 1
        self.gen.count(f"{kind}/{sub}" if sub else kind, line)

    # -- the file -----------------------------------------------------------------

    def run(self, target: int) -> None:
        self.session_meta()
        while self.size < target:
            if self.rng.random() < 0.08:
                self.model = self.rng.choices(list(MODELS), list(MODELS.values()))[0]  # `/model` before a turn
            self.turn()

    def session_meta(self) -> None:
        g = self.gen
        created = Generator.ts(self.now - self.rng.randrange(0, 30_000))
        extra = f',"base_instructions":{{"text":"{g.instructions}"}}' if self.extended else ',"instructions":null'
        branch = self.rng.choice(["main", "dev", "feat/codex-bench", "fix-42"])
        self.add("session_meta", (
            f'{{"id":"{self.thread}","timestamp":"{created}","cwd":"{self.cwd}","originator":"{self.originator}",'
            f'"cli_version":"{self.version}","source":"cli","model_provider":"openai"{extra},'
            f'"git":{{"commit_hash":"{self.rng.getrandbits(160):040x}","branch":"{branch}",'
            f'"repository_url":"git@github.com:dev/{self.cwd.rsplit("/", 1)[-1]}.git"}}}}'
        ))  # fmt: skip
        if self.extended:
            self.message("developer", f"<permissions instructions>\\n{g.text(self.rng.randrange(4_000, 16_000))}")
        self.message(
            "user", f"<environment_context>\\n  <cwd>{self.cwd}</cwd>\\n  <shell>bash</shell>\\n</environment_context>"
        )

    def turn(self) -> None:
        g, rng = self.gen, self.rng
        self.turn_id = g.uuid7(self.now)
        if self.tasks:
            self.add("event_msg", (
                f'{{"type":"task_started","turn_id":"{self.turn_id}","started_at":{self.now // 1000},'
                f'"model_context_window":{WINDOW},"collaboration_mode_kind":"default"}}'
            ), "task_started")  # fmt: skip
        if not self.per_request_context:
            self.turn_context()
        prompt = g.text(rng.randrange(20, 1_200))
        self.now += rng.randrange(5_000, 300_000)
        self.add("event_msg", f'{{"type":"user_message","message":"{prompt}","images":[]}}', "user_message")
        self.message("user", prompt)
        if self.shell:
            self.add("response_item", (
                f'{{"type":"ghost_snapshot","ghost_commit":{{"id":"{rng.getrandbits(160):040x}",'
                f'"parent":"{rng.getrandbits(160):040x}","preexisting_untracked_files":[],"preexisting_untracked_dirs":[]}}}}'
            ), "ghost_snapshot")  # fmt: skip
        requests = min(1 + int(rng.lognormvariate(1.6, 0.9)), 60)
        for i in range(requests):
            self.request(final=i == requests - 1)
        if self.tasks:
            last = g.text(rng.randrange(100, 1_500))
            self.add("event_msg", (
                f'{{"type":"task_complete","turn_id":"{self.turn_id}","last_agent_message":"{last}",'
                f'"completed_at":{self.now // 1000},"duration_ms":{rng.randrange(2_000, 900_000)},'
                f'"time_to_first_token_ms":{rng.randrange(300, 9_000)}}}'
            ), "task_complete")  # fmt: skip

    def turn_context(self) -> None:
        g = self.gen
        if self.extended:
            payload = (
                f'{{"turn_id":"{self.turn_id}","cwd":"{self.cwd}","current_date":"2026-05-11","timezone":"Europe/Vilnius",'
                f'"approval_policy":"on-request","sandbox_policy":{{"type":"workspace-write","writable_roots":[],'
                f'"network_access":false}},"model":"{self.model}","effort":"medium","summary":"auto",'
                f'"user_instructions":"{g.text(self.rng.randrange(1_500, 4_000))}",'
                f'"truncation_policy":{{"mode":"tokens","limit":10000}}}}'
            )
        else:
            turn = f'"turn_id":"{self.turn_id}",' if self.tasks else ""
            payload = (
                f'{{{turn}"cwd":"{self.cwd}","approval_policy":"never","sandbox_policy":{{"mode":"danger-full-access"}},'
                f'"model":"{self.model}","effort":"high","summary":"auto"}}'
            )
        self.add("turn_context", payload)

    def message(self, role: str, text: str) -> None:
        kind = "output_text" if role == "assistant" else "input_text"
        self.add("response_item", (
            f'{{"type":"message","role":"{role}","content":[{{"type":"{kind}","text":"{text}"}}]}}'
        ), "message")  # fmt: skip

    # -- one model request ----------------------------------------------------------

    def request(self, *, final: bool) -> None:
        g, rng = self.gen, self.rng
        if self.per_request_context:
            self.turn_context()
        if self.twice:  # the previous request's count again (the first request's: no usage yet)
            self.token_count(self.last_info or "null")
        summary = g.text(rng.randrange(20, 90))
        if not self.extended:
            self.add("event_msg", f'{{"type":"agent_reasoning","text":"**{summary}**"}}', "agent_reasoning")
        if rng.random() < 0.75:
            self.add("response_item", (
                f'{{"type":"reasoning","summary":[{{"type":"summary_text","text":"**{summary}**"}}],"content":null,'
                f'"encrypted_content":"{g.encrypted(g.heavy(1_800, 90_000))}"}}'
            ), "reasoning")  # fmt: skip
        out = g.heavy(180, 12_000)
        if final:
            text = g.text(rng.randrange(80, 3_000))
            self.message("assistant", text)
            if self.tasks:
                self.add(
                    "event_msg",
                    f'{{"type":"agent_message","message":"{text}","phase":"final_answer"}}',
                    "agent_message",
                )
            self.usage(out, 0)
            return
        output_chars = g.heavy(2_000, 60_000)
        self.tool_call(out, output_chars)
        if self.context > 0.85 * WINDOW:
            self.compact()

    def usage(self, out: int, tool_tokens: int) -> None:
        """The request's token_count: the whole prompt (cached included) and output with reasoning."""
        rng = self.rng
        inp = self.context + rng.randrange(0, 400)
        cached = (min(self.prev_input, inp) // 128 * 128) if rng.random() < 0.92 else 0
        reasoning = int(out * rng.uniform(0, 0.8))
        self.prev_input = inp
        self.context = inp + out + tool_tokens
        last = [inp, cached, out, reasoning, inp + out]
        self.total = [a + b for a, b in zip(self.total, last, strict=True)]
        self.gen.record(self.model, inp, cached, out, reasoning)
        self.last_info = (
            f'{{"total_token_usage":{_usage(self.total)},"last_token_usage":{_usage(last)},'
            f'"model_context_window":{WINDOW}}}'
        )
        self.token_count(self.last_info)

    def token_count(self, info: str) -> None:
        if self.extended:
            limits = "null"
        else:
            # Whole percents, as Codex writes them: a reading changes every few requests.
            self.used = [min(u + self.rng.uniform(0, 0.4 - 0.3 * i), 100.0) for i, u in enumerate(self.used)]
            limit_id = '"limit_id":"codex",' if self.tasks else ""
            limits = (
                f'{{{limit_id}"primary":{{"used_percent":{self.used[0]:.0f}.0,"window_minutes":300,"resets_at":{self.resets[0]}}},'
                f'"secondary":{{"used_percent":{self.used[1]:.0f}.0,"window_minutes":10080,"resets_at":{self.resets[1]}}}}}'
            )
        self.add("event_msg", f'{{"type":"token_count","info":{info},"rate_limits":{limits}}}', "token_count")

    def tool_call(self, out: int, chars: int) -> None:
        g, rng = self.gen, self.rng
        call = g.call_id()
        cmd = rng.choice(COMMANDS)
        code = 1 if rng.random() < 0.06 else 0
        body = g.text(chars)
        if self.shell:
            args = _escape(f'{{"command":["bash","-lc","{cmd}"],"workdir":"{self.cwd}"}}')
            self.add(
                "response_item",
                f'{{"type":"function_call","name":"shell","arguments":"{args}","call_id":"{call}"}}',
                "function_call",
            )
            self.usage(out, chars // 4)
            inner = f'{{"output":"{body}","metadata":{{"exit_code":{code},"duration_seconds":{rng.random():.1f}}}}}'
            self.add(
                "response_item",
                f'{{"type":"function_call_output","call_id":"{call}","output":"{_escape(inner)}"}}',
                "function_call_output",
            )
            return
        args = _escape(f'{{"cmd":"{cmd}","workdir":"{self.cwd}","yield_time_ms":1000,"max_output_tokens":12000}}')
        self.add(
            "response_item",
            f'{{"type":"function_call","name":"exec_command","arguments":"{args}","call_id":"{call}"}}',
            "function_call",
        )
        self.usage(out, chars // 4)
        running = rng.random() < 0.15
        self.exec_session += 1
        status = (
            f"Process running with session ID {self.exec_session}" if running else f"Process exited with code {code}"
        )
        head = f"Chunk ID: {rng.getrandbits(24):06x}\\nWall time: {rng.random():.4f} seconds\\n{status}\\nOriginal token count: {chars // 4}\\nOutput:\\n"
        self.add(
            "response_item",
            f'{{"type":"function_call_output","call_id":"{call}","output":"{head}{"" if running else body}"}}',
            "function_call_output",
        )
        if running:  # the exit code comes in a later write_stdin output
            stdin = g.call_id()
            args = _escape(f'{{"session_id":{self.exec_session},"chars":"","yield_time_ms":5000}}')
            self.add(
                "response_item",
                f'{{"type":"function_call","name":"write_stdin","arguments":"{args}","call_id":"{stdin}"}}',
                "function_call",
            )
            done = f"Chunk ID: {rng.getrandbits(24):06x}\\nWall time: 2.0000 seconds\\nProcess exited with code {code}\\nOutput:\\n"
            self.add(
                "response_item",
                f'{{"type":"function_call_output","call_id":"{stdin}","output":"{done}{body}"}}',
                "function_call_output",
            )
        if self.extended:
            self.add("event_msg", (
                f'{{"type":"exec_command_end","call_id":"{call}","process_id":"{self.exec_session}","turn_id":"{self.turn_id}",'
                f'"command":["/bin/zsh","-lc","{cmd}"],"cwd":"{self.cwd}","parsed_cmd":[{{"type":"unknown","cmd":"{cmd}"}}],'
                f'"source":"unified_exec_startup","stdout":"","stderr":"","aggregated_output":"{body}",'
                f'"exit_code":{code},"duration":{{"secs":{rng.randrange(0, 9)},"nanos":{rng.randrange(10**9)}}},'
                f'"formatted_output":"","status":"{"failed" if code else "completed"}"}}'
            ), "exec_command_end")  # fmt: skip

    def compact(self) -> None:
        """A local compaction: the summary, the event, and the marker count that repeats the total."""
        g = self.gen
        self.add("compacted", f'{{"message":"{g.text(self.rng.randrange(2_000, 8_000))}"}}')
        self.add("event_msg", '{"type":"context_compacted"}', "context_compacted")
        estimate = self.context // 5
        marker = [0, 0, 0, 0, estimate]
        self.last_info = (
            f'{{"total_token_usage":{_usage(self.total)},"last_token_usage":{_usage(marker)},'
            f'"model_context_window":{WINDOW}}}'
        )
        self.token_count(self.last_info)
        self.context, self.prev_input = estimate, 0


def _usage(u: list[int]) -> str:
    return (
        f'{{"input_tokens":{u[0]},"cached_input_tokens":{u[1]},"output_tokens":{u[2]},'
        f'"reasoning_output_tokens":{u[3]},"total_tokens":{u[4]}}}'
    )


def generate(root: Path, size: int, seed: int = 17) -> Manifest:
    """Write about `size` bytes of rollouts below `root` (a Codex home) and return the manifest."""
    return Generator(root, size, seed).run()


def cached(root: Path, size: int, seed: int = 17) -> Manifest:
    """The corpus at `root`, generated unless a manifest for the same size, seed and version is there."""
    manifest = root / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text())
        if data.get("size") == size and data.get("seed") == seed and data.get("version") == GENERATOR_VERSION:
            return Manifest.from_json(data)
    if root.exists():
        import shutil

        shutil.rmtree(root)
    m = generate(root, size, seed)
    manifest.write_text(json.dumps(m.to_json(), indent=1))
    return m
