"""Deterministic synthetic Claude Code transcripts, shaped like real ones, for the benchmark.

`generate(root, size)` writes `root/projects/<project>/...` in the three
subagent layouts (inline 1.0.x sidechains, flat 2.0.x `agent-*.jsonl`, nested
2.1.x `<session>/subagents/agent-*.jsonl` with `.meta.json` sidecars) and
returns a manifest with the ground truth: distinct API responses and their
final token totals per model. Bytes are dominated, as in real transcripts, by
tool results, progress lines and file-history snapshots; assistant lines are
streamed 2-6 per response with placeholder usage on all but the last line,
and `agent_progress` lines embed copies of subagent responses (with usage)
that must not be counted. A few sessions are resumed copies that repeat an
earlier session's lines, so dedup across files matters.

The same (size, seed) always produces the same bytes.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 3
"""Bumped when the output changes, so a cached corpus is regenerated."""

MODELS = {
    # model id: (weight as the main model, typical output tokens)
    "claude-opus-4-6": (40, 400),
    "claude-sonnet-4-5-20250929": (25, 350),
    "claude-opus-4-5-20251101": (15, 380),
    "claude-sonnet-4-20250514": (10, 300),
    "claude-haiku-4-5-20251001": (10, 150),
}
SUBAGENT_MODELS = ["claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929", "claude-opus-4-6"]
ERAS = [
    # (version, subagent layout, weight)
    ("1.0.108", "inline", 10),
    ("2.0.74", "flat", 20),
    ("2.1.39", "nested", 45),
    ("2.1.90", "nested", 25),
]
TOOLS = ["Bash", "Read", "Edit", "Grep", "Glob", "Write", "WebFetch", "TodoWrite"]
T_START = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
SPAN_DAYS = 75

_WORDS = (  # noqa: SIM905 - a word list that reads as text
    "the of and to in is for on with as by at from this that def class return import self value "
    "config error warning test result module function file path line data cache token model "
    "session agent request response stream parse build index query table column row offset "
    "{ } ( ) [ ] : ; , . = == != -> => + - * / % < > | & ~ ! ? @ # $ ^ _ ' ` "
    "0 1 2 3 42 100 255 1024 4096 65535 0x1f 3.14 true false null None "
    "é ü ñ → ○ ● · — … 日本 данные ✓ ✗"
).split()


def _escaped_pool(rng: random.Random, chars: int) -> str:
    """JSON-escaped filler text: words, code punctuation, newlines, tabs and quotes, no backslashes."""
    parts: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(_WORDS)
        r = rng.random()
        sep = "\n" if r < 0.08 else ("\t" if r < 0.1 else ('"' if r < 0.12 else " "))
        parts.append(w + sep)
        n += len(w) + 1
    return json.dumps("".join(parts), ensure_ascii=False)[1:-1]


@dataclass
class Totals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0


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
    lines_by_type: Counter[str] = field(default_factory=Counter)
    bytes_by_type: Counter[str] = field(default_factory=Counter)
    models: dict[str, Totals] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "models"}
        out["lines_by_type"] = dict(self.lines_by_type.most_common())
        out["bytes_by_type"] = dict(self.bytes_by_type.most_common())
        out["models"] = {m: t.__dict__ for m, t in sorted(self.models.items())}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        m = cls(size=data["size"], seed=data["seed"])
        for key, value in data.items():
            if key == "models":
                m.models = {name: Totals(**t) for name, t in value.items()}
            elif key in ("lines_by_type", "bytes_by_type"):
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
        self.pool = _escaped_pool(self.rng, 4_000_000)
        self.manifest = Manifest(size=size, seed=seed)
        self.seen_keys: set[str] = set()
        self.projects = [f"/home/dev/work/proj-{i:02d}" for i in range(24)]
        self.recent_sessions: list[list[str]] = []  # lines of finished sessions, for resumed copies
        self.bytes = 0

    # -- primitives ---------------------------------------------------------------

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def hexid(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def text(self, chars: int) -> str:
        """`chars` characters of escaped filler, safe to paste between JSON quotes."""
        pool = self.pool
        chars = max(1, min(chars, len(pool) - 2))
        start = self.rng.randrange(0, len(pool) - chars)
        if start and pool[start - 1] == "\\":
            start += 1
        s = pool[start : start + chars]
        return s[:-1] if s.endswith("\\") else s

    def heavy(self, median: int, cap: int) -> int:
        """A heavy-tailed size: lognormal around `median`, capped."""
        return int(min(cap, max(20, self.rng.lognormvariate(0, 1.1) * median)))

    @staticmethod
    def ts(ms: int) -> str:
        t = time.gmtime(ms // 1000)
        return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"

    # -- layout -------------------------------------------------------------------

    def run(self) -> Manifest:
        started = time.perf_counter()
        projects = self.root / "projects"
        projects.mkdir(parents=True, exist_ok=True)
        while self.bytes < self.size:
            self.session(projects)
        self.manifest.seconds = round(time.perf_counter() - started, 2)
        return self.manifest

    def write_file(self, path: Path, lines: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "\n".join(lines).encode() + b"\n"
        path.write_bytes(data)
        m = self.manifest
        m.files += 1
        m.bytes += len(data)
        m.lines += len(lines)
        m.largest_file = max(m.largest_file, len(data))
        self.bytes += len(data)

    def session(self, projects: Path) -> None:
        rng = self.rng
        cwd = rng.choice(self.projects)
        folder = projects / cwd.replace("/", "-")
        version, layout = rng.choices([(v, lay) for v, lay, _ in ERAS], [w for *_, w in ERAS])[0]
        sid = self.uuid()
        if self.recent_sessions and rng.random() < 0.03:
            # A resumed session: Claude Code copies the earlier conversation into a new file.
            copied = rng.choice(self.recent_sessions)
            s = _Session(self, sid, cwd, version, layout, folder)
            s.lines.extend(copied[: len(copied) // 2])
            s.body(self.heavy(150_000, 8_000_000))
            self.write_file(folder / f"{sid}.jsonl", s.lines)
            return
        target = self.heavy(250_000, 60_000_000)
        s = _Session(self, sid, cwd, version, layout, folder)
        s.start()
        s.body(target)
        self.write_file(folder / f"{sid}.jsonl", s.lines)
        if len(s.lines) < 4000:
            self.recent_sessions = [*self.recent_sessions, s.lines][-8:]

    def count(self, kind: str, line: str) -> None:
        self.manifest.lines_by_type[kind] += 1
        self.manifest.bytes_by_type[kind] += len(line) + 1

    def record(self, key: str, model: str, usage: dict[str, int]) -> None:
        """Ground truth: one API response with its final usage, counted once across all files."""
        if key in self.seen_keys or model == "<synthetic>":
            return
        self.seen_keys.add(key)
        t = self.manifest.models.setdefault(model, Totals())
        t.requests += 1
        t.input_tokens += usage["in"]
        t.output_tokens += usage["out"]
        t.cache_read_tokens += usage["read"]
        t.cache_write_5m_tokens += usage["w5"]
        t.cache_write_1h_tokens += usage["w1h"]


class _Session:
    """One transcript file's worth of lines (and the subagent files it spawns)."""

    def __init__(self, gen: Generator, sid: str, cwd: str, version: str, layout: str, folder: Path,
                 *, agent: str | None = None, model: str | None = None, now: int | None = None) -> None:  # fmt: skip
        self.gen = gen
        self.rng = gen.rng
        self.sid = sid
        self.cwd = cwd
        self.version = version
        self.layout = layout
        self.folder = folder
        self.agent = agent
        self.sidechain = agent is not None
        self.model = model or self.rng.choices(list(MODELS), [w for w, _ in MODELS.values()])[0]
        self.now = now if now is not None else T_START + self.rng.randrange(SPAN_DAYS * 86_400_000)
        self.branch = self.rng.choice(["main", "dev", "feature/ingest", "fix-123", ""])
        self.parent: str | None = None
        self.lines: list[str] = []
        self.one_hour = self.rng.random() < 0.25
        self.context = self.rng.randrange(8_000, 40_000)
        self.slug = "lexical-painting-whisper" if version >= "2.0.51" else None

    # -- envelope -----------------------------------------------------------------

    def tick(self, lo: int = 200, hi: int = 20_000) -> str:
        self.now += self.rng.randrange(lo, hi)
        return Generator.ts(self.now)

    def env(self, uuid: str, *, sidechain: bool | None = None, agent: str | None = None) -> str:
        side = self.sidechain if sidechain is None else sidechain
        parent = json.dumps(self.parent)
        out = (
            f'"parentUuid":{parent},"isSidechain":{"true" if side else "false"},"userType":"external",'
            f'"cwd":"{self.cwd}","sessionId":"{self.sid}","version":"{self.version}","gitBranch":"{self.branch}"'
        )
        a = agent or self.agent
        if a:
            out += f',"agentId":"{a}"'
        if self.slug:
            out += f',"slug":"{self.slug}"'
        self.parent = uuid
        return out

    def add(self, kind: str, line: str) -> None:
        self.lines.append(line)
        self.gen.count(kind, line)

    # -- entries ------------------------------------------------------------------

    def start(self) -> None:
        g, ts = self.gen, self.tick()
        if self.version >= "2.1":
            self.add("queue-operation", f'{{"type":"queue-operation","operation":"dequeue","timestamp":"{ts}","sessionId":"{self.sid}"}}')
            for hook in ("SessionStart:startup", "SessionStart:startup"):
                self.progress_hook(hook)
        self.file_history(heavy=False)
        self.prompt(g.text(self.rng.randrange(40, 900)))

    def body(self, target: int) -> None:
        rng = self.rng
        size = sum(len(x) + 1 for x in self.lines)
        while size < target:
            before = len(self.lines)
            r = rng.random()
            if r < 0.06:
                self.prompt(self.gen.text(rng.randrange(20, 1500)))
            elif r < 0.075 and not self.sidechain:
                self.subagent()
            elif r < 0.08:
                self.system()
            elif r < 0.085:
                self.synthetic_error()
            self.turn()
            size += sum(len(x) + 1 for x in self.lines[before:])

    def prompt(self, text: str) -> None:
        u = self.gen.uuid()
        ts = self.tick(2_000, 120_000)
        self.file_history(heavy=self.rng.random() < 0.15)
        self.add("user", f'{{{self.env(u)},"type":"user","message":{{"role":"user","content":"{text}"}},"uuid":"{u}","timestamp":"{ts}","permissionMode":"default"}}')

    def file_history(self, heavy: bool) -> None:
        g = self.gen
        n = self.rng.randrange(20, 400) if heavy else self.rng.randrange(0, 4)
        ts = Generator.ts(self.now)
        backups = ",".join(
            f'"src/{g.hexid(6)}/{g.hexid(4)}.py":{{"backupFileName":"{g.hexid(16)}@v{i % 7 + 1}","version":{i % 7 + 1},"backupTime":"{ts}"}}'
            for i in range(n)
        )
        mid = g.uuid()
        self.add("file-history-snapshot", f'{{"type":"file-history-snapshot","messageId":"{mid}","snapshot":{{"messageId":"{mid}","trackedFileBackups":{{{backups}}},"timestamp":"{ts}"}},"isSnapshotUpdate":{"true" if heavy else "false"}}}')

    def usage(self, final: dict[str, int], out: int) -> str:
        w5, w1h = final["w5"], final["w1h"]
        return (
            f'{{"input_tokens":{final["in"]},"cache_creation_input_tokens":{w5 + w1h},'
            f'"cache_read_input_tokens":{final["read"]},"cache_creation":{{"ephemeral_5m_input_tokens":{w5},'
            f'"ephemeral_1h_input_tokens":{w1h}}},"output_tokens":{out},"service_tier":"standard","inference_geo":"global"}}'
        )

    def turn(self) -> None:
        """One API response streamed over 2-6 lines, then the tool result and its progress lines."""
        rng, g = self.rng, self.gen
        model = self.model if rng.random() > 0.05 else rng.choice(list(MODELS))
        mid = f"msg_01{g.hexid(22)}"
        rid = f"req_011{g.hexid(21)}"
        written = rng.randrange(200, 6_000)
        self.context = min(self.context + rng.randrange(500, 6_000), 180_000)
        read = max(self.context - written, 0)
        final = {
            "in": rng.randrange(1, 30), "read": read, "out": g.heavy(MODELS[model][1], 16_000),
            "w5": 0 if self.one_hour else written, "w1h": written if self.one_hour else 0,
        }  # fmt: skip
        n = rng.choices([2, 3, 4, 5, 6], [30, 30, 20, 12, 8])[0]
        blocks = ["thinking"] + ["text"] * (n - 2) + ["tool_use"]
        tool = rng.choice(TOOLS)
        tool_id = f"toolu_01{g.hexid(22)}"
        for i, kind in enumerate(blocks):
            out = final["out"] if i == n - 1 else rng.randrange(1, 10)
            if kind == "thinking":
                block = f'{{"type":"thinking","thinking":"{g.text(rng.randrange(50, 1200))}","signature":"{g.hexid(rng.randrange(200, 600))}"}}'
            elif kind == "text":
                block = f'{{"type":"text","text":"{g.text(rng.randrange(10, 800))}"}}'
            else:
                block = self.tool_use_block(tool, tool_id)
            u = g.uuid()
            ts = self.tick(100, 3_000)
            stop = '"tool_use"' if i == n - 1 and self.version >= "2.1.9" else "null"
            self.add("assistant", (
                f'{{{self.env(u)},"message":{{"model":"{model}","id":"{mid}","type":"message","role":"assistant",'
                f'"content":[{block}],"stop_reason":{stop},"stop_sequence":null,"usage":{self.usage(final, out)}}},'
                f'"requestId":"{rid}","type":"assistant","uuid":"{u}","timestamp":"{ts}"}}'
            ))  # fmt: skip
        g.record(f"{mid}:{rid}", model, final)
        if self.version >= "2.1":
            for _ in range(rng.randrange(1, 6)):
                self.progress_hook("PreToolUse:" + tool)
            for _ in range(rng.randrange(0, 4) if tool == "Bash" else 0):
                self.progress_bash(tool_id)
            for _ in range(rng.randrange(1, 6)):
                self.progress_hook("PostToolUse:" + tool)
        self.tool_result(tool, tool_id)
        if rng.random() < 0.1:
            self.file_history(heavy=rng.random() < 0.3)

    def tool_use_block(self, tool: str, tool_id: str) -> str:
        g = self.gen
        if tool == "Bash":
            inp = f'{{"command":"{g.text(self.rng.randrange(10, 200))}","description":"Run the tests"}}'
        elif tool in ("Read", "Write", "Edit"):
            extra = f',"old_string":"{g.text(300)}","new_string":"{g.text(320)}"' if tool == "Edit" else ""
            extra += f',"content":"{g.text(self.rng.randrange(200, 8_000))}"' if tool == "Write" else ""
            inp = f'{{"file_path":"{self.cwd}/src/{g.hexid(6)}.py"{extra}}}'
        else:
            inp = f'{{"pattern":"{g.text(30)}","path":"{self.cwd}"}}'
        return f'{{"type":"tool_use","id":"{tool_id}","name":"{tool}","input":{inp}}}'

    def tool_result(self, tool: str, tool_id: str) -> None:
        """The biggest lines in real transcripts: tool output, twice (message + toolUseResult)."""
        g, rng = self.gen, self.rng
        size = g.heavy(7_000, 400_000) if rng.random() > 0.001 else rng.randrange(1_000_000, 6_000_000)
        body = g.text(size)
        err = rng.random() < 0.04
        flag = ',"is_error":true' if err else ""
        u = g.uuid()
        ts = self.tick()
        if tool == "Bash":
            tur = f'{{"stdout":"{body}","stderr":"","interrupted":false,"isImage":false}}'
        elif tool == "Read":
            tur = f'{{"type":"text","file":{{"filePath":"{self.cwd}/src/x.py","content":"{body}","numLines":{size // 40},"startLine":1,"totalLines":{size // 40}}}}}'
        else:
            tur = f'"{g.text(200)}"' if err else f'{{"filenames":["a.py","b.py"],"durationMs":{rng.randrange(5, 900)},"numFiles":2}}'
        self.add("user", (
            f'{{{self.env(u)},"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"{tool_id}",'
            f'"type":"tool_result","content":"{body}"{flag}}}]}},"uuid":"{u}","timestamp":"{ts}",'
            f'"toolUseResult":{tur}}}'
        ))  # fmt: skip

    def progress_hook(self, name: str) -> None:
        g = self.gen
        u = g.uuid()
        ts = self.tick(10, 500)
        tid = g.uuid()
        self.add("progress", (
            f'{{{self.env(u)},"type":"progress","data":{{"type":"hook_progress","hookEvent":"{name.split(":")[0]}",'
            f'"hookName":"{name}","command":"$HOME/.claude/hooks/notify.sh {g.hexid(8)}"}},"parentToolUseID":"{tid}",'
            f'"toolUseID":"{tid}","timestamp":"{ts}","uuid":"{u}"}}'
        ))  # fmt: skip

    def progress_bash(self, tool_id: str) -> None:
        g, rng = self.gen, self.rng
        u = g.uuid()
        ts = self.tick(500, 3_000)
        out = g.text(rng.randrange(30, 300))
        full = g.text(g.heavy(3_000, 200_000))
        self.add("progress", (
            f'{{{self.env(u)},"type":"progress","data":{{"type":"bash_progress","output":"{out}","fullOutput":"{full}",'
            f'"elapsedTimeSeconds":{rng.randrange(1, 90)},"totalLines":{rng.randrange(1, 500)},"timeoutMs":120000}},'
            f'"toolUseID":"bash-progress-{rng.randrange(9)}","parentToolUseID":"{tool_id}","uuid":"{u}","timestamp":"{ts}"}}'
        ))  # fmt: skip

    def system(self) -> None:
        u = self.gen.uuid()
        ts = self.tick()
        if self.rng.random() < 0.2:
            self.add("system", f'{{{self.env(u)},"type":"system","subtype":"compact_boundary","content":"Conversation compacted","isMeta":false,"timestamp":"{ts}","uuid":"{u}","level":"info","compactMetadata":{{"trigger":"auto","preTokens":{self.context}}}}}')
            self.context = self.rng.randrange(8_000, 30_000)
        else:
            self.add("system", f'{{{self.env(u)},"type":"system","subtype":"turn_duration","durationMs":{self.rng.randrange(1_000, 900_000)},"timestamp":"{ts}","uuid":"{u}","isMeta":false}}')

    def synthetic_error(self) -> None:
        u = self.gen.uuid()
        ts = self.tick()
        mid = self.gen.uuid()
        self.add("assistant", (
            f'{{{self.env(u)},"type":"assistant","uuid":"{u}","timestamp":"{ts}","message":{{"id":"{mid}",'
            f'"model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence","type":"message","usage":{{"input_tokens":0,'
            f'"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}},"content":[{{"type":"text",'
            f'"text":"API Error: 529 Overloaded"}}]}},"isApiErrorMessage":true,"error":"unknown"}}'
        ))  # fmt: skip

    def subagent(self) -> None:
        """A Task call: the agent's lines go inline (1.0.x), to a flat file (2.0.x) or nested (2.1.x)."""
        g, rng = self.gen, self.rng
        model = rng.choice(SUBAGENT_MODELS)
        if self.layout == "inline":
            saved_parent = self.parent
            self.parent = None
            self.sidechain, self.agent = True, None
            main_model, self.model = self.model, model
            for _ in range(rng.randrange(2, 8)):
                self.turn()
            self.sidechain, self.model, self.parent = False, main_model, saved_parent
            return
        agent = g.hexid(7 if self.layout == "flat" or self.version < "2.1.50" else 17)
        sub = _Session(g, self.sid, self.cwd, self.version, self.layout, self.folder, agent=agent, model=model, now=self.now)
        sub.parent = None
        sub.prompt(g.text(rng.randrange(100, 1500)))
        sub.body(g.heavy(40_000, 3_000_000))
        if self.layout == "flat":
            path = self.folder / f"agent-{agent}.jsonl"
        else:
            path = self.folder / self.sid / "subagents" / f"agent-{agent}.jsonl"
            if rng.random() < 0.5:
                meta = json.dumps({"agentType": "general-purpose", "description": "Explore the code", "toolUseId": f"toolu_01{g.hexid(22)}", "spawnDepth": 1})
                path.parent.mkdir(parents=True, exist_ok=True)
                path.with_name(f"agent-{agent}.meta.json").write_text(meta)
        g.write_file(path, sub.lines)
        # The parent file carries agent_progress copies of the subagent's responses, with usage: never counted.
        for line in sub.lines[1 : 1 + rng.randrange(1, 6)]:
            if '"type":"assistant"' in line[:2000] and '"model":"<synthetic>"' not in line:
                u = g.uuid()
                ts = self.tick(100, 2_000)
                embedded = line.split('"message":', 1)[1].rsplit(',"requestId"', 1)[0]
                self.add("progress", (
                    f'{{{self.env(u)},"type":"progress","data":{{"message":{{"type":"assistant","timestamp":"{ts}",'
                    f'"message":{embedded}}},"normalizedMessages":[],"type":"agent_progress","prompt":"{g.text(300)}",'
                    f'"agentId":"{agent}"}},"toolUseID":"agent_msg_{g.hexid(12)}","parentToolUseID":"toolu_01{g.hexid(22)}",'
                    f'"uuid":"{u}","timestamp":"{ts}"}}'
                ))  # fmt: skip
        self.now = max(self.now, sub.now)


def generate(root: Path, size: int, seed: int = 7) -> Manifest:
    """Write a corpus of about `size` bytes below `root` (a Claude config dir) and return its manifest."""
    return Generator(root, size, seed).run()


def cached(root: Path, size: int, seed: int = 7) -> Manifest:
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


def big_file(path: Path, size: int, seed: int = 11) -> int:
    """One transcript of about `size` bytes, mostly large file-history snapshots and a few huge lines.

    Written line by line so the generator itself stays small in memory.
    """
    g = Generator(path.parent, size, seed)
    sid = g.uuid()
    s = _Session(g, sid, "/home/dev/big", "2.1.39", "nested", path.parent)
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        s.start()
        while written < size:
            r = g.rng.random()
            if r < 0.6:
                s.file_history(heavy=True)
            elif r < 0.62:
                big = g.text(g.rng.randrange(2_000_000, 4_000_000))
                s.add("progress", f'{{"type":"progress","data":{{"type":"bash_progress","fullOutput":"{big}"}},"sessionId":"{sid}","uuid":"{g.uuid()}"}}')
            else:
                s.turn()
            for line in s.lines:
                fh.write(line)
                fh.write("\n")
                written += len(line) + 1
            s.lines.clear()
    return written
