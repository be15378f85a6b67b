"""tiermon's performance benchmark: cold ingest, reports, live tail and pane queries.

    python bench/bench.py [--size 1GiB] [--runs 3] [--smoke] [--synthetic-store 5000000] [--out bench/out]

One run generates (or reuses) a synthetic corpus of Claude Code transcripts
(bench/corpus.py), warms the page cache, then measures as medians of --runs:

- `cat` of every transcript (the read floor);
- `tiermon ingest` into a new database (cold ingest), with peak memory;
- the dashboard's first load into a new database, run as the app runs it (in a
  thread, spawned parse workers, signals in its own process);
- `tiermon report daily --json` over the unchanged data, and right after one
  line was appended to one transcript (the issue's case: ≤ 0.10 × ccusage),
  run on its own and forwarded to a running `tiermon serve`;
- `tiermon statusline` against a bare `python -c pass`, run in turn;
- `ccusage daily --json --offline` on the same files, when ccusage is found
  (--ccusage PATH, $CCUSAGE_BIN, or `ccusage` on PATH);
- the time from a line appended to a watched transcript to the Live pane
  showing it, with the dashboard's own watcher settings and ingest runner;
- each dashboard pane's queries, on the ingested store and on a synthetic
  store of --synthetic-store responses built by replicating it;
- a full signals rebuild of the synthetic store (`tiermon ingest --rebuild-signals`);
- scale checks: one large file heavy with file-history snapshots (bounded
  memory) and thousands of small files (bounded open file handles);
- cold ingest of as many bytes of Codex rollouts (bench/corpus_codex.py) as
  the Claude corpus, each run paired with a Claude ingest: MB/s of each and
  the ratio, and the Codex totals against that generator's ground truth.

tiermon is measured as a user installs it: a wheel of the checkout in a venv of
its own (--checkout measures the editable install, whose import hook adds ~22 ms
to every Python start). It prints a table with ratios and writes results.json and results.md under
--out. Exit status 1 when a correctness check fails (tiermon's totals differ
from the generator's ground truth, a step errors); timings never fail it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus as corpus_mod
import corpus_codex

TOTAL_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")
PANE_TARGET_MS = 100.0
TAIL_TARGET_S = 1.0
REBUILD_TARGET_S = 60.0


# -- helpers ---------------------------------------------------------------------------


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B?)?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    unit = (m.group(2) or "").upper().rstrip("B")
    scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "KI": 1 << 10, "MI": 1 << 20, "GI": 1 << 30, "TI": 1 << 40}
    return int(float(m.group(1)) * scale[unit])


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


REPO = Path(__file__).resolve().parent.parent
_INSTALLED: list[str] = []
"""The `tiermon` command of `install_as_user`, once made; else the checkout's own is measured."""


def tiermon_cmd() -> list[str]:
    if _INSTALLED:
        return list(_INSTALLED)
    exe = Path(sys.executable).with_name("tiermon")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "tiermon"]


def python_cmd() -> str:
    """The interpreter of the `tiermon` measured, for the `python -c pass` baseline."""
    exe = Path(tiermon_cmd()[0]).with_name("python")
    return str(exe) if _INSTALLED and exe.exists() else sys.executable


def install_as_user(out: Path) -> str:
    """Install tiermon from a wheel into a venv of its own, as pip or pipx install it for a user, and
    measure that. The checkout's editable install hooks every Python start in its venv (~22 ms, its
    import finder pulls in pathlib), which only developers pay; a start-up-bound row (the status line,
    a report forwarded to `tiermon serve`) would measure the hook. The venv reuses the checkout venv's
    installed dependencies by a path line. Returns what was measured, for the results."""
    import sysconfig

    venv = out / "user-install"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   text=True).strip()  # fmt: skip
    source = out / "user-install-source"  # a copy: building in the checkout leaves a build/ that later wheels reuse
    shutil.rmtree(source, ignore_errors=True)
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True)  # fmt: skip
    if listed.returncode != 0:
        return "the checkout's editable install (git could not list the working tree to build a wheel from)"
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / name).is_file():  # a deleted but still tracked file is not copied
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(source)],
                           capture_output=True, text=True)  # fmt: skip
    shutil.rmtree(source, ignore_errors=True)
    if built.returncode != 0:
        return f"the checkout's editable install (a wheel could not be built: {built.stderr.strip()[-200:]})"
    Path(site, "checkout-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = venv / "bin" / "tiermon"
    script.write_text(f"#!{python}\nimport sys\nfrom tiermon.tui.entry import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")  # fmt: skip
    script.chmod(0o755)
    if subprocess.run([str(script), "--version"], capture_output=True).returncode != 0:
        return "the checkout's editable install (the wheel's tiermon did not start)"
    _INSTALLED[:] = [str(script)]
    return "a wheel of the checkout in a venv of its own (as a user installs it)"


def bench_env(home: Path) -> dict[str, str]:
    """Subprocess environment: UTC days, no user config, no discovered transcripts.

    PYTHONDONTWRITEBYTECODE is dropped: a user's install keeps compiled bytecode,
    and without it every run recompiles tiermon's modules (20-40 ms a command).
    """
    dropped = ("CLAUDE_CONFIG_DIR", "TIERMON_DB", "XDG_CONFIG_HOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(TZ="UTC", TIERMON_CONFIG_DIR=str(home / "config"), TIERMON_DATA_DIR=str(home / "data"), NO_COLOR="1")
    return env


def _children(pid: int) -> list[int]:
    out = [pid]
    i = 0
    while i < len(out):
        try:
            with open(f"/proc/{out[i]}/task/{out[i]}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
        i += 1
    return out


def _mem(pid: int) -> tuple[int, int]:
    """(peak RSS, current PSS) in bytes of one process; PSS counts pages shared by forked workers once.

    The peak is the kernel's VmHWM: exact between samples and, unlike
    ru_maxrss, not inherited from the parent over fork and exec.
    """
    hwm = pss = 0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                    break
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    return hwm, pss


class Sampler(threading.Thread):
    """Samples a process tree: peak summed PSS, peak RSS of any one process, peak open fds."""

    def __init__(self, pid: int, interval: float = 0.05, fds: bool = False) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.fds = pid, interval, fds
        self.peak_pss = self.peak_rss = self.peak_fds = self.peak_procs = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = _children(self.pid)
            pss_sum = 0
            fd_count = 0
            for pid in pids:
                rss, pss = _mem(pid)
                pss_sum += pss
                self.peak_rss = max(self.peak_rss, rss)
                if self.fds:
                    with contextlib.suppress(OSError):
                        fd_count += len(os.listdir(f"/proc/{pid}/fd"))
            self.peak_pss = max(self.peak_pss, pss_sum)
            self.peak_fds = max(self.peak_fds, fd_count)
            self.peak_procs = max(self.peak_procs, len(pids))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss: int  # peak RSS of any one process in the tree (sampled VmHWM)
    tree_pss: int  # peak summed PSS of the tree (sampled)
    peak_fds: int
    rc: int
    stdout: str
    stderr: str


def measure_rusage(cmd: list[str], env: dict[str, str], *, fds: bool = False) -> Run:
    """Run a command: wall time, CPU (user+sys of it and its children), memory, open fds."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = Sampler(proc.pid, fds=fds)
    sampler.start()
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def drain(stream: Any, key: str) -> None:
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    readers = [
        threading.Thread(target=drain, args=(proc.stdout, "out")),
        threading.Thread(target=drain, args=(proc.stderr, "err")),
    ]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for r in readers:
        r.join()
    sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        wall, usage.ru_utime + usage.ru_stime, sampler.peak_rss, sampler.peak_pss,
        sampler.peak_fds, proc.returncode, b"".join(chunks["out"]).decode(errors="replace"),
        b"".join(chunks["err"]).decode(errors="replace"),
    )  # fmt: skip


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_quiet(limit: float, seconds: float) -> float:
    """Wait up to `seconds` for the 1-minute load average to fall below `limit`; return it."""
    deadline = time.monotonic() + seconds
    while load_average() > limit and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()


# -- the corpus ------------------------------------------------------------------------


def transcripts(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.jsonl"))


def warm(files: list[Path]) -> None:
    for path in files:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass


def run_cat(root: Path, env: dict[str, str]) -> Run:
    return measure_rusage(["sh", "-c", f"find '{root}' -name '*.jsonl' -print0 | xargs -0 cat > /dev/null"], env)


# -- tiermon and ccusage ---------------------------------------------------------------


def report_totals(text: str) -> dict[str, int]:
    data = json.loads(text)
    return {k: int(data["totals"][k]) for k in ("requests", *TOTAL_FIELDS)}


def expected_totals(manifest: corpus_mod.Manifest) -> dict[str, int]:
    return {k: int(v) for k, v in manifest.totals().__dict__.items()}


def find_ccusage(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("CCUSAGE_BIN"), shutil.which("ccusage")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def ccusage_totals(text: str) -> dict[str, int]:
    t = json.loads(text)["totals"]
    return {
        "input_tokens": int(t["inputTokens"]),
        "output_tokens": int(t["outputTokens"]),
        "cache_read_tokens": int(t["cacheReadTokens"]),
        "cache_creation_tokens": int(t["cacheCreationTokens"]),
    }


# -- live tail and panes (run inside a probe process that plays the dashboard) ---------------


PROBE = r"""
import json, os, sys, threading, time, resource
from datetime import datetime, timedelta, timezone
from pathlib import Path
sys.path.insert(0, {bench_dir!r})
import bench
from tiermon.ingest.config import load_settings
from tiermon.ingest.store import Store
db, source, transcript, trials, rounds = Path({db!r}), Path({source!r}), Path({transcript!r}), {trials}, {rounds}
settings = load_settings(db=db, sources=[source])
out = {{"tail": [], "panes": {{}}, "errors": []}}
from tiermon.ingest.store import keep_open
keep_open(db)  # as the dashboard: its passes and panes share one open store, let go when another knocks
if trials:
    # The dashboard's own runner and watcher settings: a missing one fails the benchmark, never skips it.
    from tiermon.ingest.runner import Ingestor
    from tiermon.tui.app import LOCK_WAIT, WATCH_DEBOUNCE_MS
    ingestor = Ingestor(settings)
    ingestor.run(fork=False, lock_wait=LOCK_WAIT)  # catch up, as the dashboard does at start
    out["tail"] = bench.tail_trials(ingestor, settings, transcript, trials, WATCH_DEBOUNCE_MS, LOCK_WAIT)
now = datetime.now(timezone.utc).replace(tzinfo=None)
out["panes"] = bench.pane_times(db, now, rounds)
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
out["rss_mb"] = int(status["VmRSS"].split()[0]) / 1024
out["hwm_mb"] = int(status["VmHWM"].split()[0]) / 1024
print("PROBE" + json.dumps(out, default=str))
"""


def assistant_line(session: str, cwd: str, i: int) -> bytes:
    """One new streamed-final assistant line, timestamped now."""
    now = datetime.now(UTC)
    ts = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    entry = {
        "parentUuid": None, "isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session,
        "version": "2.1.90", "gitBranch": "main", "type": "assistant", "requestId": f"req_bench_{i}_{time.time_ns()}",
        "uuid": f"bench-{i}-{time.time_ns()}", "timestamp": ts,
        "message": {"model": "claude-opus-4-6", "id": f"msg_bench_{i}_{time.time_ns()}", "type": "message",
                    "role": "assistant", "content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": 3, "output_tokens": 42, "cache_read_input_tokens": 20000,
                              "cache_creation_input_tokens": 100}},
    }  # fmt: skip
    return (json.dumps(entry) + "\n").encode()


def tail_trials(
    ingestor: Any, settings: Any, transcript: Path, trials: int, debounce_ms: int, lock_wait: float
) -> list[dict[str, float]]:
    """Append a line; a watcher with the dashboard's settings runs an ingest pass; the Live and Alerts panes query.

    As the dashboard does: watchfiles on the runner's watch paths with the app's
    filter and debounce, one `Ingestor.run(fork=False)` per change, then the
    Live pane's and the Alerts pane's queries on a read-only store. A line counts
    as visible once the Live pane shows its session active at the line's time and
    the session's signals (its alerts) cover it. Returns per trial the seconds
    until then and the parts (watcher wake-up, ingest pass, pane queries).
    """
    from watchfiles import watch

    from tiermon.ingest.store import Store
    from tiermon.tui.app import _wanted

    stop = threading.Event()
    found: dict[str, tuple[float, float, float]] = {}  # key -> (woke at, pass done at, visible at)
    wanted: list[tuple[str, str, datetime]] = []  # (key, session, line time)
    panes = pane_queries(datetime.now(UTC).replace(tzinfo=None), None)

    def watcher() -> None:
        for _changes in watch(*ingestor.watch_paths(), debounce=debounce_ms, step=50, stop_event=stop,
                              watch_filter=_wanted, rust_timeout=200, ignore_permission_denied=True):  # fmt: skip
            t_woke = time.perf_counter()
            ingestor.run(fork=False, lock_wait=lock_wait)
            t_pass = time.perf_counter()
            with Store.open(settings.db_path, read_only=True) as store:
                live = panes["live"](store, datetime.now(UTC).replace(tzinfo=None))
                panes["alerts"](store)
                todo = [(k, sid, ts) for k, sid, ts in wanted if k not in found]
                signals = dict(store.query(
                    "SELECT k, end_ts FROM session_signals WHERE k IN (SELECT unnest(?::VARCHAR[]))",
                    [[sid for _, sid, _ in todo]],
                )) if todo else {}  # fmt: skip
            t_seen = time.perf_counter()
            shown = {r["session_id"]: r["last_activity"] for r in live["rows"]}
            for k, sid, ts in todo:
                if shown.get(sid) and shown[sid] >= ts and signals.get(sid) and signals[sid] >= ts:
                    found[k] = (t_woke, t_pass, t_seen)

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    time.sleep(0.5)
    session = json.loads(transcript.read_bytes().split(b"\n", 1)[0] or b"{}").get("sessionId") or "bench-session"
    results = []
    for i in range(trials):
        line = assistant_line(session, "/home/dev/work/proj-00", i)
        entry = json.loads(line)
        key = f"{entry['message']['id']}:{entry['requestId']}"
        at = datetime.fromisoformat(entry["timestamp"].replace("Z", "")).replace(microsecond=0)
        wanted.append((key, session, at))
        t0 = time.perf_counter()
        with open(transcript, "ab") as fh:
            fh.write(line)
        deadline = t0 + 10
        while key not in found and time.perf_counter() < deadline:
            time.sleep(0.005)
        if key in found:
            woke, passed, seen = found[key]
            results.append(
                {"visible_s": seen - t0, "watch_s": woke - t0, "ingest_s": passed - woke, "query_s": seen - passed}
            )
        else:
            results.append({"visible_s": float("inf")})
        time.sleep(0.6)
    stop.set()
    thread.join(timeout=5)
    return results


def tui_memory(db: Path, source: Path, transcript: Path, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    """The real dashboard under a pseudo-terminal (120×36): its RSS while lines are appended every second.

    Returns the RSS once started (the first sample after the Live pane's first
    query), at the end, and the peak, in MB, with the pane switches it made.
    The dashboard is the only process: what it holds is what the user's terminal holds.
    """
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: become the dashboard
        os.environ.clear()
        os.environ.update({**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"})
        os.execv(tiermon_cmd()[0], [*tiermon_cmd(), "--db", str(db), "--source", str(source)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    session = json.loads(transcript.read_bytes().split(b"\n", 1)[0] or b"{}").get("sessionId") or "bench-session"
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()
    next_line = started + 3.0
    keys = iter([b"s", b"a", b"v", b"h", b"l"] * 100)
    screen = b""
    i = 0
    try:
        while time.perf_counter() - started < seconds:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    screen = (screen + os.read(fd, 65536))[-4096:]  # drained so the app never blocks on its terminal
                except OSError:
                    break
            now = time.perf_counter()
            if now >= next_line:
                with open(transcript, "ab") as fh:
                    fh.write(assistant_line(session, "/home/dev/work/proj-00", i))
                os.write(fd, next(keys))  # visit every pane, so each one's queries run on this store
                i += 1
                next_line = now + 1.0
            try:
                with open(f"/proc/{pid}/status") as fh:
                    rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
                samples.append((now - started, rss / 1024))
            except (OSError, StopIteration):
                break
    finally:
        with contextlib.suppress(OSError):
            os.write(fd, b"q")
        deadline = time.perf_counter() + 5
        while not _exited(pid) and time.perf_counter() < deadline:
            time.sleep(0.05)
        if not _exited(pid):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    if samples and samples[-1][0] < seconds - 1:
        raise RuntimeError(f"the dashboard exited after {samples[-1][0]:.1f} s: {screen[-1500:]!r}")
    settled = [mb for t, mb in samples if t >= 3.0]
    return {
        "seconds": round(seconds, 1), "lines_appended": i, "samples": len(samples),
        "rss_started_mb": round(settled[0], 1) if settled else None,
        "rss_end_mb": round(samples[-1][1], 1) if samples else None,
        "rss_peak_mb": round(max(mb for _, mb in samples), 1) if samples else None,
        "peak_at_s": round(max(samples, key=lambda s: s[1])[0], 1) if samples else None,
    }  # fmt: skip


def _exited(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) != (0, 0)
    except ChildProcessError:
        return True


def pane_queries(now: datetime, session_id: str | None) -> dict[str, Any]:
    """What each dashboard pane asks the store for: the same calls as tui/screens/*.fetch, without the app.

    The Session pane shows `session_id` (the busiest session of the last week).
    """
    from tiermon.ingest.kinds import newest_advice
    from tiermon.ingest.limits import plan_limits
    from tiermon.ingest.pricing import load_price_table
    from tiermon.ingest.queries import cache_savings, current_block, files_by_source, live_sessions, spend_split
    from tiermon.ingest.reports import ReportFilter, period_rows, totals
    from tiermon.ingest.signals import views as v
    from tiermon.tui.screens.live import RECENT_WINDOW, ROW_LIMIT as LIVE_ROWS
    from tiermon.tui.screens.signal_list import ROW_LIMIT
    from tiermon.tui.screens.spend import WEEKS_SHOWN, model_projects

    tz = "UTC"
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    sunday = monday + timedelta(days=6)
    week = ReportFilter(since=monday, until=sunday, tz=tz)
    weeks = ReportFilter(since=monday - timedelta(weeks=WEEKS_SHOWN - 1), until=sunday, tz=tz)
    since = datetime.combine(monday, datetime.min.time())
    until = since + timedelta(days=7)
    prices: Any = None  # the Advice pane's price table, loaded on its first fetch

    def live(store: Any, at: datetime = now) -> Any:
        rows = live_sessions(store, now=at, window=RECENT_WINDOW, limit=LIVE_ROWS)
        day = at.date()
        return {"rows": rows, "today": totals(store, ReportFilter(since=day, until=day, tz=tz)),
                "block": current_block(store, now=at, tz=tz), "limits": plan_limits(store, now=at)}  # fmt: skip

    def spend(store: Any) -> Any:
        return (
            period_rows(store, week, "day", by="tier"), period_rows(store, weeks, "week", by="tier"),
            totals(store, week), spend_split(store, since=since, until=until),
            cache_savings(store, since=since, until=until), model_projects(store, week),
            current_block(store, now=now, tz=tz),
        )  # fmt: skip

    def session(store: Any) -> Any:
        return v.session_timeline(store, session_id) if session_id else None

    def health(store: Any) -> Any:
        return v.health(store), files_by_source(store)

    def alerts(store: Any) -> Any:
        return v.list_alerts(store, limit=ROW_LIMIT)

    def advice(store: Any) -> Any:
        nonlocal prices
        if prices is None:
            from tiermon.ingest.config import load_settings

            settings = load_settings()
            prices = load_price_table(settings.price_file, cache_dir=settings.data_dir / "cache")
        return newest_advice(store, prices, ROW_LIMIT)

    def sessions(store: Any) -> Any:
        from tiermon.ingest.sessions import count_sessions, list_sessions
        from tiermon.tui.screens.sessions import ROW_LIMIT as SESSION_ROWS

        return list_sessions(store, limit=SESSION_ROWS), count_sessions(store)

    def models(store: Any, *, all_time: bool = False) -> Any:
        from tiermon.ingest.pricing import load_price_table as prices_of
        from tiermon.ingest.replay import POLICIES, replay
        from tiermon.ingest.scorecard import scorecard, turn_frame
        from tiermon.tui.screens.models import RECENT_DAYS

        nonlocal prices
        if prices is None:
            from tiermon.ingest.config import load_settings

            settings = load_settings()
            prices = prices_of(settings.price_file, cache_dir=settings.data_dir / "cache")
        period = ReportFilter(tz=tz, since=None if all_time else today - timedelta(days=RECENT_DAYS - 1))
        turns = turn_frame(store, period, project=False)
        return scorecard(turns), [replay(turns, prices, p) for p in POLICIES] if turns.height else []

    def models_all_time(store: Any) -> Any:
        return models(store, all_time=True)

    def report_30d(store: Any) -> Any:
        f = ReportFilter(since=today - timedelta(days=29), tz=tz)
        return period_rows(store, f, "day"), totals(store, f)

    def report_all(store: Any) -> Any:
        f = ReportFilter(tz=tz)
        return period_rows(store, f, "day"), totals(store, f)

    return {
        "live": live, "spend": spend, "session": session, "health": health, "alerts": alerts, "advice": advice,
        "sessions": sessions, "models": models, "models, all time": models_all_time, "report daily 30d": report_30d,
        "report daily all": report_all,
    }  # fmt: skip


PANES = ("live", "spend", "session", "health", "alerts", "advice", "sessions", "models")


def pane_times(db: Path, now: datetime, rounds: int) -> dict[str, dict[str, float]]:
    """Per pane: first and median milliseconds (wall and CPU) of open + fetch, as the dashboard does: with the
    store kept open between refreshes (`keep_open`) and the panes' memory limit."""
    from tiermon.ingest.runner import LIMITS
    from tiermon.ingest.store import Store, keep_open, stop_keeping

    with Store.open(db, read_only=True) as store:
        busiest = store.query(
            "SELECT session_id FROM responses WHERE ts >= ? GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
            [now - timedelta(days=7)],
        )
    keep_open(db)
    try:
        return _pane_rounds(db, now, rounds, busiest[0][0] if busiest else None, LIMITS.query_memory_limit)
    finally:
        stop_keeping(db)


def _pane_rounds(db: Path, now: datetime, rounds: int, session: str | None, memory: str) -> dict[str, dict[str, Any]]:
    from tiermon.ingest.store import Store

    out: dict[str, dict[str, Any]] = {}
    for name, fetch in pane_queries(now, session).items():
        walls: list[float] = []
        cpus: list[float] = []
        error = None
        for _ in range(rounds):
            t, c = time.perf_counter(), time.process_time()
            try:
                with Store.open(db, memory_limit=memory) as store:
                    fetch(store)
            except Exception as exc:  # noqa: BLE001 - a pane that errors is reported, not fatal
                error = f"{type(exc).__name__}: {exc}"
                break
            walls.append((time.perf_counter() - t) * 1000)
            cpus.append((time.process_time() - c) * 1000)
        out[name] = {
            "first_ms": walls[0] if walls else float("nan"), "median_ms": median(walls[1:] or walls),
            "cpu_ms": median(cpus[1:] or cpus),
        }  # fmt: skip
        if error:
            out[name]["error"] = error
    return out


def run_probe(
    db: Path, source: Path, transcript: Path | None, trials: int, rounds: int, env: dict[str, str]
) -> dict[str, Any]:
    code = PROBE.format(
        bench_dir=str(Path(__file__).resolve().parent), db=str(db), source=str(source),
        transcript=str(transcript or ""), trials=trials if transcript else 0, rounds=rounds,
    )  # fmt: skip
    run = measure_rusage([sys.executable, "-c", code], env)
    if run.rc != 0 or "PROBE" not in run.stdout:
        raise RuntimeError(f"probe failed ({run.rc}): {run.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(run.stdout.split("PROBE", 1)[1])
    data["tree_pss_mb"] = run.tree_pss / 1e6
    return data


# -- answers in a blink: a report right after an append, the status line ----------------------


REPORT_APPEND_TARGET = 0.10
"""`tiermon report daily --json` right after one line was appended: at most this share of ccusage's time."""
STATUSLINE_TARGET_MS = 50.0
STATUSLINE_TARGET_RATIO = 2.5
"""`tiermon statusline`: at most this many ms (median), and this multiple of a bare `python -c pass`."""
APPENDED = {"requests": 1, "output_tokens": 42}
"""What each line of `assistant_line` adds to a report's totals."""


def victim_transcript(files: list[Path]) -> Path:
    """The main-chain transcript written last: the one a user's next line would land in."""
    return max(
        (p for p in files if "subagents" not in str(p) and "/agent-" not in p.name), key=lambda p: p.stat().st_mtime
    )


def cold_report(out: Path, corpus_root: Path, expected: dict[str, int], env: dict[str, str], res: Results) -> None:
    """`tiermon report daily --json` on a new store: what ccusage's `daily` does, read everything and answer.

    The report's pass stores every row but leaves the signals owed to whoever shows them next,
    so this is the first answer a new user waits for; the cold `ingest` row adds the signals.
    """
    db = out / "cold-report.duckdb"
    for p in out.glob(db.name + "*"):
        p.unlink()
    run = measure_rusage([*tiermon_cmd(), "report", "daily", "--json", "--db", str(db), "--source", str(corpus_root)],
                         env)  # fmt: skip
    res.add("report_cold", run)
    if run.rc != 0:
        res.failures.append(f"tiermon report on a new store exited {run.rc}: {run.stderr[-500:]}")
    elif report_totals(run.stdout) != expected:
        res.failures.append(f"tiermon report on a new store: totals {report_totals(run.stdout)} differ from {expected}")
    for p in out.glob(db.name + "*"):
        p.unlink()


DASHBOARD_LOAD = r"""
import json, sys, threading
from pathlib import Path
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store
from tiermon.tui.app import LOCK_WAIT
settings = load_settings(db=Path(sys.argv[1]), sources=[Path(sys.argv[2])])
out = {{}}

def load():  # the app's ingest worker: a thread of a process running others, so no fork
    out["summary"] = Ingestor(settings).run(fork=False, lock_wait=LOCK_WAIT)

if __name__ == "__main__":  # spawned parse workers import this script again
    thread = threading.Thread(target=load)
    thread.start()
    thread.join()
    with Store.open(settings.db_path, read_only=True) as store:
        (totals,) = store.query("SELECT count(*), sum(output_tokens) FROM responses")
    print(json.dumps({{"workers": out["summary"].parse_workers, "totals": list(totals)}}))
"""


def dashboard_load(out: Path, corpus_root: Path, reference: Path, env: dict[str, str], res: Results) -> None:
    """The dashboard's first load on a new store, run as the app runs it (`Ingestor.run(fork=False)` in a
    thread): what a new user waits for before the panes fill. Its rows must equal the cold ingest's."""
    db = out / "dashboard-load.duckdb"
    for p in out.glob(db.name + "*"):
        p.unlink()
    script = out / "dashboard_load.py"
    script.write_text(DASHBOARD_LOAD.format())
    run = measure_rusage([sys.executable, str(script), str(db), str(corpus_root)], env)
    res.add("dashboard_load", run)
    if run.rc != 0:
        res.failures.append(f"the dashboard's first load exited {run.rc}: {run.stderr[-500:]}")
        return
    got = json.loads(run.stdout.strip().splitlines()[-1])
    from tiermon.ingest.store import Store

    with Store.open(reference, read_only=True) as store:
        (want,) = store.query("SELECT count(*), sum(output_tokens) FROM responses")
    if got["totals"] != list(want):
        res.failures.append(f"the dashboard's first load stored {got['totals']}, the cold ingest {list(want)}")
    res.meta["dashboard_load_workers"] = got["workers"]
    for p in out.glob(db.name + "*"):
        p.unlink()


def report_after_append(
    db: Path, corpus_root: Path, victim: Path, runs: int, env: dict[str, str], res: Results
) -> None:
    """`tiermon report daily --json` right after one fresh assistant line was appended to one transcript.

    The issue's case: the store is up to date, then one line lands. Runs on a copy of the
    ingested store; each trial appends one line and reports, so each report reads exactly
    one new line. Each report must count its line (a failure otherwise). The same trials run
    twice: the command on its own, then forwarded to a running `tiermon serve` (the resident
    that spares each report Python's, DuckDB's and the store's start-up). The victim is
    truncated back afterwards, so the corpus stays as generated.
    """
    size = victim.stat().st_size
    work = db.with_name(f"append-{db.name}")
    shutil.copy(db, work)
    cmd = [*tiermon_cmd(), "report", "daily", "--json", "--db", str(work), "--source", str(corpus_root)]
    session = json.loads(victim.read_bytes().split(b"\n", 1)[0] or b"{}").get("sessionId") or "bench-session"
    try:
        _append_trials("report_append", cmd, victim, session, runs, env, res)
        server = subprocess.Popen([*tiermon_cmd(), "--db", str(work), "--source", str(corpus_root), "serve"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            if not _serving(env, server):
                res.failures.append("tiermon serve did not start")
                return
            _append_trials("report_append_served", cmd, victim, session, runs, env, res)
            res.meta["serve_rss_mb"] = _mem(server.pid)[0] / 2**20 if server.poll() is None else None
        finally:
            server.terminate()
            _, log = server.communicate(timeout=60)
        answered = log.count(" -> 0 ")
        if answered != runs + 1:
            res.failures.append(f"tiermon serve answered {answered} of {runs + 1} reports: {log[-500:]}")
    finally:
        os.truncate(victim, size)
        for p in work.parent.glob(work.name + "*"):
            p.unlink()


def _append_trials(
    name: str, cmd: list[str], victim: Path, session: str, runs: int, env: dict[str, str], res: Results
) -> None:
    """A settling report, then `runs` times: append one line, report, check the line was counted."""
    settled = measure_rusage(cmd, env)
    if settled.rc != 0:
        res.failures.append(f"{name}: tiermon report exited {settled.rc}: {settled.stderr[-500:]}")
        return
    last = report_totals(settled.stdout)
    for i in range(runs):
        with open(victim, "ab") as fh:
            fh.write(assistant_line(session, "/home/dev/work/proj-00", i))
        run = measure_rusage(cmd, env)
        res.add(name, run)
        got = report_totals(run.stdout) if run.rc == 0 else {}
        if any(got.get(k) != last[k] + n for k, n in APPENDED.items()):
            res.failures.append(f"{name}: a report after an append did not count the line: {got} after {last}")
        last = got or last


def _serving(env: dict[str, str], server: subprocess.Popen[str]) -> bool:
    """Wait until the server accepts connections on its socket (False if it exited first)."""
    import socket

    path = str(Path(env["TIERMON_DATA_DIR"]) / "run" / "serve.sock")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
                return True
            except OSError:
                time.sleep(0.05)
    return False


def statusline_times(runs: int, env: dict[str, str]) -> dict[str, float]:
    """Median ms of `tiermon statusline` and of a bare `python -c pass`, run in turn, and their ratio.

    Claude Code runs the status line on every redraw with a payload on stdin; the
    payload here carries both plan windows, so each call also records a reading.
    Alternating the two commands keeps the ratio fair on a machine whose speed drifts.
    """
    payload_file = Path(__file__).resolve().parent.parent / "tests" / "payloads" / "full.json"
    now = time.time()
    data = (
        payload_file.read_text().replace('"__5H__"', str(int(now + 3600))).replace('"__7D__"', str(int(now + 86400)))
    ).encode()
    commands = {"python": [python_cmd(), "-c", "pass"], "statusline": [*tiermon_cmd(), "statusline"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs + 1):
        for name, cmd in commands.items():
            started = time.perf_counter()
            subprocess.run(cmd, input=data, env=env, capture_output=True, check=True)
            times[name].append(time.perf_counter() - started)
    python, ours = times["python"][1:], times["statusline"][1:]  # the first pair warms the caches
    return {
        "python_ms": median(python) * 1000, "statusline_ms": median(ours) * 1000,
        "ratio": median([b / a for a, b in zip(python, ours, strict=True)]), "runs": runs,
    }  # fmt: skip


def statusline_row(res: Results) -> str | None:
    """The table row of the status line: its median, its ratio to Python's start-up, and the targets."""
    s = res.summary.get("statusline")
    if not s:
        return None
    met = "yes" if s["statusline_ms"] <= STATUSLINE_TARGET_MS and s["ratio"] <= STATUSLINE_TARGET_RATIO else "no"
    return (
        f"| tiermon statusline ({s['runs']} runs in turn with `python -c pass`: {s['python_ms']:.0f} ms;"
        f" {s['ratio']:.2f}× it) | {s['statusline_ms'] / 1000:.3f} | – | – | – | – | – |"
        f" ≤ {STATUSLINE_TARGET_MS:.0f} ms; ≤ {STATUSLINE_TARGET_RATIO} × python -c pass | {met} |"
    )


# -- the synthetic store ---------------------------------------------------------------


ID_COLUMNS = {
    "k", "session_id", "uuid", "parent_uuid", "message_id", "request_id", "agent_id", "tool_use_id", "path",
    "file_path", "ref_agent_id", "parent_tool_use_id",
}  # fmt: skip
REPLICATED_SKIP = {"meta", "prices", "entry_types", "quarantine", "agent_meta", "response_counts", "turn_kinds"}
"""Tables copied once, not replicated; the counts among them are made again from the replicated rows."""


def build_synthetic_store(base: Path, target: Path, responses: int, now: datetime) -> dict[str, Any]:
    """A store of about `responses` rows: the base store's tables replicated with new ids, shifted in time.

    Replica i > 0 has every id (and file path) suffixed with its number; every
    replica's timestamps are shifted so replica 0 ends at `now` and the others
    spread over two years; rows go in sorted by time, as a backfill writes
    them. Replica 0 keeps the base store's ids and file marks, so the base
    corpus reads as already ingested.
    """
    import duckdb

    started = time.perf_counter()
    if target.exists():
        target.unlink()
    for extra in target.parent.glob(target.name + ".wal"):
        extra.unlink()
    shutil.copy(base, target)
    con = duckdb.connect(str(target))
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET memory_limit = '4GB'")
    base_n = con.execute("SELECT count(*) FROM responses").fetchall()[0][0]
    copies = max(1, -(-responses // max(base_n, 1)))
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM responses").fetchall()[0]
    span_days = max((hi - lo).days, 1)
    step = max((730 - span_days) / max(copies - 1, 1), 0.0)
    shift_newest = (now - timedelta(minutes=1)) - hi
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
    counts = {}
    for table in tables:
        if table in REPLICATED_SKIP:
            continue
        cols = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
        ).fetchall()
        names = [c for c, _ in cols]
        exprs = []
        for col, dtype in cols:
            q = f'"{col}"'
            if col in ID_COLUMNS and dtype == "VARCHAR":
                exprs.append(f"CASE WHEN i = 0 OR {q} IS NULL THEN {q} ELSE {q} || '~' || i END")
            elif dtype == "TIMESTAMP":
                exprs.append(f"{q} + to_microseconds(CAST((? - i * ?) * 86400e6 AS BIGINT))")
            else:
                exprs.append(q)
        shift_days = shift_newest.total_seconds() / 86400
        order = " ORDER BY ts" if "ts" in names else ""
        con.execute(f"CREATE TEMP TABLE base_{table} AS SELECT * FROM {table}")
        con.execute(f"DELETE FROM {table}")
        params = []
        for _, dtype in cols:
            if dtype == "TIMESTAMP":
                params += [shift_days, step]
        # Oldest replicas first, a few at a time: the table ends up in time order without one huge sort.
        per = max(1, min(copies, 2_000_000 // max(base_rows(con, f"base_{table}"), 1)))
        for hi in range(copies, 0, -per):
            lo = max(hi - per, 0)
            con.execute(
                f"INSERT INTO {table} SELECT {', '.join(exprs)} FROM base_{table}, range({lo}, {hi}) r(i){order}",
                params,
            )
        con.execute(f"DROP TABLE base_{table}")
        con.execute("CHECKPOINT")
        counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    from tiermon.ingest.schema import RECOUNT_SQL, RECOUNT_TURN_KINDS_SQL

    for stmt in [*RECOUNT_SQL, *RECOUNT_TURN_KINDS_SQL]:  # the counts the writes keep, as they would have kept them
        con.execute(stmt)
    con.execute("CHECKPOINT")
    con.close()
    return {"copies": copies, "rows": counts, "seconds": round(time.perf_counter() - started, 1),
            "bytes": target.stat().st_size}  # fmt: skip


def base_rows(con: Any, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- scale checks ----------------------------------------------------------------------


def scale_big_file(work: Path, size: int, env: dict[str, str]) -> dict[str, Any]:
    root = work / "big-config"
    path = root / "projects" / "-home-dev-big" / "big.jsonl"
    if not path.exists() or abs(path.stat().st_size - size) > size * 0.1:
        shutil.rmtree(root, ignore_errors=True)
        corpus_mod.big_file(path, size)
    db = work / "big.duckdb"
    for p in work.glob("big.duckdb*"):
        p.unlink()
    run = measure_rusage([*tiermon_cmd(), "ingest", "--json", "--db", str(db), "--source", str(root)], env)
    return {"bytes": path.stat().st_size, "wall_s": run.wall, "maxrss_mb": run.maxrss / 1e6,
            "tree_pss_mb": run.tree_pss / 1e6, "rc": run.rc, "stderr": run.stderr[-500:]}  # fmt: skip


def scale_many_files(work: Path, count: int, env: dict[str, str]) -> dict[str, Any]:
    root = work / "many-config"
    marker = root / f".count-{count}"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        g = corpus_mod.Generator(root, 0, 5)
        for i in range(count):
            s = corpus_mod._Session(g, g.uuid(), f"/home/dev/many/p{i % 50}", "2.1.90", "nested", root)
            s.start()
            s.turn()
            path = root / "projects" / f"-home-dev-many-p{i % 50}" / f"{s.sid}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(s.lines) + "\n")
        marker.touch()
    db = work / "many.duckdb"
    for p in work.glob("many.duckdb*"):
        p.unlink()
    run = measure_rusage([*tiermon_cmd(), "ingest", "--json", "--db", str(db), "--source", str(root)], env, fds=True)
    return {"files": count, "wall_s": run.wall, "peak_open_fds": run.peak_fds, "maxrss_mb": run.maxrss / 1e6,
            "rc": run.rc, "stderr": run.stderr[-500:]}  # fmt: skip


# -- Codex rollouts --------------------------------------------------------------------

CODEX_FIELDS = ("requests", *TOTAL_FIELDS, "reasoning_tokens")


def codex_ingest(args: argparse.Namespace, out: Path, env: dict[str, str], res: Results, claude_root: Path,
                 claude_bytes: int) -> None:  # fmt: skip
    """Cold ingest of as many bytes of Codex rollouts as the Claude corpus has, each run paired with a
    cold ingest of the Claude corpus, so the per-byte rates compare within the same machine state."""
    root = out / f"corpus-codex-{args.label}"
    t = time.perf_counter()
    manifest = corpus_codex.cached(root, claude_bytes)
    res.meta["codex_corpus"] = {
        **manifest.to_json(), "path": str(root), "reused_or_generated_s": round(time.perf_counter() - t, 1)
    }  # fmt: skip
    warm(transcripts(root))
    dbs = {"codex": out / f"ingest-codex-{args.label}.duckdb", "claude": out / f"ingest-paired-{args.label}.duckdb"}
    sources = {"codex": f"codex={root}", "claude": f"claude={claude_root}"}
    pairs: list[dict[str, float]] = []
    for i in range(args.runs):
        print(f"codex/claude pair {i + 1}/{args.runs} (load {load_average():.2f})", file=sys.stderr)
        rates: dict[str, float] = {}
        for kind in ("codex", "claude"):
            for p in out.glob(dbs[kind].name + "*"):
                p.unlink()
            cmd = [*tiermon_cmd(), "ingest", "--json", "--db", str(dbs[kind]), "--source", sources[kind]]
            run = measure_rusage(cmd, env)
            summary = json.loads(run.stdout) if run.rc == 0 else {}
            res.add(f"{kind}_ingest_paired", run, bytes_read=summary.get("bytes_read"),
                    tailer_s=summary.get("read_seconds"), signals_s=summary.get("signals_seconds"))  # fmt: skip
            if run.rc != 0:
                res.failures.append(f"tiermon ingest of {kind} exited {run.rc}: {run.stderr[-500:]}")
                return
            rates[kind] = summary.get("bytes_read", 0) / 1e6 / run.wall
        pairs.append({**rates, "ratio": rates["codex"] / rates["claude"]})
    report = [*tiermon_cmd(), "report", "daily", "--json", "--agent", "codex", "--db", str(dbs["codex"]),
              "--source", sources["codex"]]  # fmt: skip
    rep = measure_rusage(report, env)
    if rep.rc != 0:
        res.failures.append(f"tiermon report --agent codex exited {rep.rc}: {rep.stderr[-500:]}")
        return
    got = {k: int(json.loads(rep.stdout)["totals"][k]) for k in CODEX_FIELDS}
    want = {k: int(getattr(manifest.totals(), k)) for k in CODEX_FIELDS}
    if got != want:
        res.failures.append(f"tiermon Codex totals {got} differ from the generator's {want}")
    else:
        res.checks.append("tiermon Codex totals equal the generator's ground truth")
    for p in [*out.glob(dbs["claude"].name + "*")]:
        p.unlink()
    res.summary["codex_vs_claude"] = {
        "pairs": pairs, "codex_mb_s": median([p["codex"] for p in pairs]),
        "claude_mb_s": median([p["claude"] for p in pairs]), "ratio": median([p["ratio"] for p in pairs]),
        "totals_equal": got == want,
    }  # fmt: skip


def render_codex(res: Results) -> list[str]:
    """The Codex-versus-Claude paragraph of the report (empty when the section did not run)."""
    c = res.summary.get("codex_vs_claude")
    if not c:
        return []
    corpus = res.meta.get("codex_corpus", {})
    met = "met" if c["ratio"] >= 1.0 else "not met"
    return [
        "",
        f"Cold ingest per byte, Codex rollouts ({human(corpus.get('bytes', 0))}, {corpus.get('files', 0):,} files,"
        f" {corpus.get('lines', 0):,} lines) against the Claude corpus, paired runs: Codex"
        f" {c['codex_mb_s']:.1f} MB/s, Claude {c['claude_mb_s']:.1f} MB/s, Codex/Claude {c['ratio']:.2f}×"
        f" (median of per-pair ratios; target ≥ 1.0: {met}). Codex totals"
        f" {'equal' if c['totals_equal'] else 'DIFFER from'} the generator's ground truth.",
    ]


# -- main ------------------------------------------------------------------------------


@dataclass
class Results:
    meta: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, run: Run, **extra: Any) -> None:
        row = {"wall_s": run.wall, "cpu_s": run.cpu, "maxrss_mb": run.maxrss / 1e6, "tree_pss_mb": run.tree_pss / 1e6}
        self.runs.setdefault(name, []).append({**row, "rc": run.rc, **extra})

    def med(self, name: str, key: str = "wall_s") -> float:
        return median([r[key] for r in self.runs.get(name, []) if r.get("rc", 0) == 0])

    def peak(self, name: str, key: str) -> float:
        values = [r[key] for r in self.runs.get(name, [])]
        return max(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1GiB", help="corpus size (default 1GiB)")
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--smoke", action="store_true", help="tiny corpus and store, finishes in under a minute (CI)")
    ap.add_argument("--synthetic-store", type=int, default=5_000_000, metavar="N",
                    help="responses in the synthetic store for pane queries (0: skip)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    ap.add_argument("--ccusage", help="the ccusage command (default: $CCUSAGE_BIN, then `ccusage` on PATH)")
    ap.add_argument("--no-scale", action="store_true", help="skip the big-file and many-files checks")
    ap.add_argument("--no-codex", action="store_true", help="skip the Codex-rollouts ingest (paired with Claude)")
    ap.add_argument("--tail-trials", type=int, default=5)
    ap.add_argument("--rebuild-runs", type=int, default=1,
                    help="full signals rebuilds of the synthetic store (minutes each at 5 M responses)")
    ap.add_argument("--tui-seconds", type=float, default=20.0, help="how long the real dashboard runs for its memory")
    ap.add_argument("--checkout", action="store_true",
                    help="measure the checkout's editable install instead of a wheel installed as a user would")
    ap.add_argument("--quiet-load", type=float, default=0.0,
                    help="first wait (up to 10 min) for the 1-minute load average to drop below this")
    args = ap.parse_args(argv)
    args.label = re.sub(r"[^0-9A-Za-z]+", "", args.size)
    args.size = parse_size(args.size)
    if args.smoke:
        args.label = "smoke"
        args.size, args.runs = min(args.size, 5_000_000), 1
        args.synthetic_store = min(args.synthetic_store, 20_000)
        args.tail_trials = 2
        args.tui_seconds = min(args.tui_seconds, 6.0)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    res = Results()
    if args.quiet_load:
        res.meta["load_after_wait"] = wait_quiet(args.quiet_load, 600)
    res.meta["measured"] = "the checkout's editable install (--checkout)" if args.checkout else install_as_user(out)
    res.meta.update(
        started=datetime.now(UTC).isoformat(timespec="seconds"), size=args.size, runs=args.runs,
        cpus=os.cpu_count(), python=platform.python_version(), load_at_start=load_average(), smoke=args.smoke,
    )  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="tiermon-bench-"))
    env = bench_env(home)
    try:
        run_all(args, out, env, res)
    except Exception as exc:  # noqa: BLE001 - report what was measured so far
        import traceback

        res.failures.append(f"benchmark error: {exc!r}")
        traceback.print_exc()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    res.meta["load_at_end"] = load_average()
    report = render(res, args)
    print(report)
    (out / "results.md").write_text(report)
    (out / "results.json").write_text(json.dumps(res.__dict__, indent=1, default=str))
    for failure in res.failures:
        print("FAILED:", failure, file=sys.stderr)
    return 1 if res.failures else 0


def run_all(args: argparse.Namespace, out: Path, env: dict[str, str], res: Results) -> None:
    label = args.label
    corpus_root = out / f"corpus-{label}"
    t = time.perf_counter()
    manifest = corpus_mod.cached(corpus_root, args.size)
    res.meta["corpus"] = {
        **manifest.to_json(), "path": str(corpus_root), "reused_or_generated_s": round(time.perf_counter() - t, 1)
    }
    files = transcripts(corpus_root)
    warm(files)
    expected = expected_totals(manifest)
    db = out / f"ingest-{label}.duckdb"
    ccusage = find_ccusage(args.ccusage)
    res.meta["ccusage"] = ccusage
    cc_env = {**env, "CLAUDE_CONFIG_DIR": str(corpus_root)}
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} (load {load_average():.2f})", file=sys.stderr)
        res.add("cat", run_cat(corpus_root, env))
        for p in out.glob(db.name + "*"):
            p.unlink()
        run = measure_rusage([*tiermon_cmd(), "ingest", "--json", "--db", str(db), "--source", str(corpus_root)], env)
        summary = json.loads(run.stdout) if run.rc == 0 else {}
        res.add("ingest", run, tailer_s=summary.get("read_seconds"), signals_s=summary.get("signals_seconds"))
        if run.rc != 0:
            res.failures.append(f"tiermon ingest exited {run.rc}: {run.stderr[-500:]}")
            return
        cold_report(out, corpus_root, expected, env, res)
        dashboard_load(out, corpus_root, db, env, res)
        report_cmd = [*tiermon_cmd(), "report", "daily", "--json", "--db", str(db), "--source", str(corpus_root)]
        rep = measure_rusage(report_cmd, env)  # the first report after the ingest
        res.add("report_first", rep)
        if rep.rc != 0:
            res.failures.append(f"tiermon report exited {rep.rc}: {rep.stderr[-500:]}")
            return
        got = report_totals(rep.stdout)
        if got != expected:
            res.failures.append(f"tiermon totals {got} differ from the generator's {expected}")
        for _ in range(max(args.runs, 1)):
            again = measure_rusage(report_cmd, env)  # unchanged data: start-up, a stat per file, the query
            res.add("report", again)
            if again.rc == 0 and again.stdout != rep.stdout:
                res.failures.append("tiermon report over unchanged data differs from the first one")
        report_after_append(db, corpus_root, victim_transcript(files), max(args.runs, 1), env, res)
        if ccusage:
            cc = measure_rusage([ccusage, "daily", "--json", "--offline"], cc_env)
            res.add("ccusage", cc)
            if cc.rc == 0 and i == 0:
                got_cc = ccusage_totals(cc.stdout)
                want_cc = {k: expected[k] for k in ("input_tokens", "output_tokens", "cache_read_tokens")}
                want_cc["cache_creation_tokens"] = expected["cache_write_5m_tokens"] + expected["cache_write_1h_tokens"]
                res.meta["ccusage_totals_vs_truth"] = {k: (got_cc[k], want_cc[k]) for k in want_cc}
    res.checks.append("tiermon totals equal the generator's ground truth" if not res.failures else "totals differ")
    # Live tail and panes on the ingested store, in a probe process that plays the dashboard.
    res.summary["statusline"] = statusline_times(10 if args.smoke else 30, env)
    victim = victim_transcript(files)
    victim_size = victim.stat().st_size
    probe = run_probe(db, corpus_root, None, 0, 5, env)
    res.summary["panes_ingested"] = probe["panes"]
    res.summary["probe_ingested"] = {k: probe[k] for k in ("rss_mb", "hwm_mb", "tree_pss_mb")}
    res.summary["probe_errors"] = probe.get("errors", [])
    tail_db = out / f"tail-{label}.duckdb"
    try:
        shutil.copy(db, tail_db)
        tail = run_probe(tail_db, corpus_root, victim, args.tail_trials, 1, env)
        res.summary["tail_ingested"] = tail["tail"]
        res.summary["probe_ingested_tail"] = {k: tail[k] for k in ("rss_mb", "hwm_mb", "tree_pss_mb")}
        res.summary["tui_ingested"] = tui_memory(tail_db, corpus_root, victim, args.tui_seconds, env)
    finally:
        os.truncate(victim, victim_size)  # the corpus stays as generated
        for p in out.glob(tail_db.name + "*"):
            p.unlink()
    # The synthetic store.
    if args.synthetic_store:
        store = out / f"store-{args.synthetic_store}.duckdb"
        meta_path = out / f"store-{args.synthetic_store}.json"
        from tiermon.ingest.schema import SCHEMA_VERSION
        from tiermon.ingest.signals.staleness import rules_fingerprint

        # A store built by other signal rules would recompute every session on its first live pass.
        key = {"n": args.synthetic_store, "corpus": manifest.to_json()["size"], "gen": corpus_mod.GENERATOR_VERSION,
               "schema": SCHEMA_VERSION, "rules": rules_fingerprint(),
               "day": datetime.now(UTC).date().isoformat()}  # fmt: skip
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if meta.get("key") != key or not store.exists():
            print(f"building a synthetic store of {args.synthetic_store:,} responses", file=sys.stderr)
            built = build_synthetic_store(db, store, args.synthetic_store, datetime.now(UTC).replace(tzinfo=None))
            meta = {"key": key, "built": built}
            meta_path.write_text(json.dumps(meta))
        res.meta["synthetic_store"] = meta["built"]
        probe = run_probe(store, corpus_root, None, 0, 5, env)
        res.summary["panes_synthetic"] = probe["panes"]
        res.summary["probe_synthetic"] = {k: probe[k] for k in ("rss_mb", "hwm_mb", "tree_pss_mb")}
        work_store = out / f"store-{args.synthetic_store}-tail.duckdb"
        try:
            for _ in range(args.rebuild_runs):  # every session's signals again, as a rules change does
                shutil.copy(store, work_store)
                rebuild = [*tiermon_cmd(), "ingest", "--json", "--rebuild-signals", "--db", str(work_store),
                           "--source", str(corpus_root)]  # fmt: skip
                run = measure_rusage(rebuild, env)
                summary = json.loads(run.stdout) if run.rc == 0 else {}
                res.add("rebuild_signals", run, signals_s=summary.get("signals_seconds"))
                if run.rc != 0:
                    res.failures.append(f"tiermon ingest --rebuild-signals exited {run.rc}: {run.stderr[-500:]}")
                for p in out.glob(work_store.name + "*"):
                    p.unlink()
            shutil.copy(store, work_store)
            synthetic_report = [
                *tiermon_cmd(), "report", "daily", "--json", "--db", str(work_store), "--source", str(corpus_root)
            ]
            reps = [measure_rusage(synthetic_report, env) for _ in range(args.runs)]
            for r in reps:
                res.add("report_synthetic", r)
            tail = run_probe(work_store, corpus_root, victim, args.tail_trials, 1, env)
            res.summary["tail_synthetic"] = tail["tail"]
            res.summary["probe_synthetic_tail"] = {k: tail[k] for k in ("rss_mb", "hwm_mb", "tree_pss_mb")}
            res.summary["tui_synthetic"] = tui_memory(work_store, corpus_root, victim, args.tui_seconds, env)
        finally:
            os.truncate(victim, victim_size)
            for p in out.glob(work_store.name + "*"):
                p.unlink()
    if not args.no_codex:
        codex_ingest(args, out, env, res, corpus_root, int(manifest.bytes))
    if not args.no_scale:
        big = 20_000_000 if args.smoke else 700_000_000
        many = 300 if args.smoke else 5000
        res.summary["scale_big_file"] = scale_big_file(out, big, env)
        res.summary["scale_many_files"] = scale_many_files(out, many, env)
        for name in ("scale_big_file", "scale_many_files"):
            if res.summary[name]["rc"] != 0:
                res.failures.append(
                    f"{name}: tiermon ingest exited {res.summary[name]['rc']}: {res.summary[name]['stderr']}"
                )


def _mb(value: float) -> str:
    """Memory in MB; a process gone before the first 50 ms sample shows as not sampled."""
    return f"{value:.0f} MB" if value > 0 else "(exited before a sample)"


def render(res: Results, args: argparse.Namespace) -> str:
    lines: list[str] = []
    m = res.meta
    c = m.get("corpus", {})
    lines.append(f"# tiermon benchmark ({'smoke' if args.smoke else human(args.size)}, {args.runs} runs, medians)")
    lines.append("")
    lines.append(
        f"{m.get('started')} · {m.get('cpus')} CPUs · Python {m.get('python')} · load {m.get('load_at_start', 0):.2f}"
        f" → {m.get('load_at_end', 0):.2f} · corpus {human(c.get('bytes', 0))}, {c.get('files', 0):,} files,"
        f" {c.get('lines', 0):,} lines, largest file {human(c.get('largest_file', 0))}"
    )
    lines.append("")
    lines.append(f"tiermon measured: {m.get('measured', 'the checkout')}.")
    lines.append("")
    cc = res.med("ccusage")
    cat = res.med("cat")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if not math.isnan(a) and not math.isnan(b) and b > 0 else "–"

    lines.append(
        "| measurement | median s | CPU s | peak RSS (one process) | peak PSS (process tree) | × ccusage | × cat"
        " | target | met |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for name, label, target, limit in (
        ("cat", "cat of the transcripts (read floor)", None, None),
        ("ccusage", "ccusage daily --json --offline", None, None),
        ("ingest", "tiermon ingest, new DB (cold)", "≤ 1.0 × ccusage; RSS ≤ 400 MB", 1.0),
        ("report_cold", "tiermon report daily --json, new DB (cold; signals owed)", "≤ 1.0 × ccusage", 1.0),
        ("dashboard_load", "the dashboard's first load, new DB (spawned workers, signals in-process)", None, None),
        ("report", "tiermon report daily --json, unchanged data", None, None),
        ("report_append", "tiermon report daily --json, one line appended", f"≤ {REPORT_APPEND_TARGET} × ccusage",
         REPORT_APPEND_TARGET),
        ("report_append_served", "the same, forwarded to a running `tiermon serve`",
         f"≤ {REPORT_APPEND_TARGET} × ccusage", REPORT_APPEND_TARGET),
        ("report_first", "tiermon report daily --json, first after the ingest", None, None),
        ("report_synthetic", "tiermon report daily --json, synthetic store", None, None),
        ("rebuild_signals", "tiermon ingest --rebuild-signals, synthetic store", "≤ 60 s", None),
    ):
        if name not in res.runs:
            continue
        med = res.med(name)
        met = "–"
        if limit is not None and not math.isnan(cc):
            met = "yes" if med <= limit * cc else "no"
            if name == "ingest":
                met = "yes" if med <= cc and res.peak(name, "tree_pss_mb") <= 400 else "no"
        if name == "rebuild_signals":
            met = "yes" if med <= REBUILD_TARGET_S else "no"
        same_files = name not in ("report_synthetic", "rebuild_signals")
        lines.append(
            f"| {label} | {med:.3f} | {res.med(name, 'cpu_s'):.2f} | {_mb(res.peak(name, 'maxrss_mb'))}"
            f" | {_mb(res.peak(name, 'tree_pss_mb'))} | {ratio(med, cc) if same_files else '–'}"
            f" | {ratio(med, cat) if same_files else '–'} | {target or ''} | {met} |"
        )
    if statusline_row(res):
        lines.append(statusline_row(res) or "")
    lines.append("")
    if m.get("serve_rss_mb"):
        lines.append(f"`tiermon serve` peaked at {m['serve_rss_mb']:.0f} MB RSS over its answers (store kept open).")
        lines.append("")
    lines.append(
        "Peak RSS (one process) is the largest VmHWM of any process in the command's tree; peak PSS is the"
        " largest sum over the tree, sampled every 50 ms, with pages shared by forked workers counted once."
    )
    tailer = median([r["tailer_s"] for r in res.runs.get("ingest", []) if r.get("tailer_s")])
    signals = median([r["signals_s"] for r in res.runs.get("ingest", []) if r.get("signals_s") is not None])
    if not math.isnan(tailer):
        total = res.med("ingest")
        lines.append("")
        lines.append(f"Of the cold ingest ({total:.2f} s), reading, parsing and writing rows took {tailer:.2f} s"
                     f" and the signals pass {signals:.2f} s (medians); the rest ({total - tailer - signals:.2f} s)"
                     f" is start-up, finding the files and opening the store.")
    if "ccusage_totals_vs_truth" in m:
        diffs = {k: v for k, v in m["ccusage_totals_vs_truth"].items() if v[0] != v[1]}
        lines.append("")
        lines.append("ccusage totals equal the ground truth." if not diffs else
                     "ccusage totals differ from the ground truth (ccusage, truth): " + json.dumps(diffs))
    if not m.get("ccusage"):
        lines.append("")
        lines.append("ccusage not found (--ccusage PATH): ratios to it are not shown.")
    for key, title in (("tail_ingested", "ingested store"), ("tail_synthetic", "synthetic store")):
        trials = res.summary.get(key)
        if not trials:
            continue
        vis = [t["visible_s"] for t in trials]
        lines.append("")
        lines.append(
            f"Live tail on the {title}: an appended line was visible to a Live-pane query after "
            f"{median(vis):.3f} s median, {max(vis):.3f} s worst of {len(vis)} (target ≤ {TAIL_TARGET_S:.0f} s:"
            f" {'met' if max(vis) <= TAIL_TARGET_S else 'not met'}); parts (median): watcher "
            f"{median([t.get('watch_s', 0) for t in trials]):.3f} s, ingest pass "
            f"{median([t.get('ingest_s', 0) for t in trials]):.3f} s, pane query "
            f"{median([t.get('query_s', 0) for t in trials]):.3f} s."
        )
    for key, title in (("panes_ingested", "the ingested store"), ("panes_synthetic", "the synthetic store")):
        panes = res.summary.get(key)
        if not panes:
            continue
        extra = ""
        if key == "panes_synthetic" and "synthetic_store" in m:
            rows = m["synthetic_store"]["rows"]
            extra = f" ({rows.get('responses', 0):,} responses, {rows.get('events', 0):,} events)"
        lines.append("")
        lines.append(
            f"Pane queries on {title}{extra}, ms (fetch on the store the dashboard keeps open, the first including"
            f" its opening; target ≤ {PANE_TARGET_MS:.0f} ms for panes):"
        )
        lines.append("")
        lines.append("| pane | first ms | median ms | CPU ms | met |")
        lines.append("|---|---|---|---|---|")
        for name, t in panes.items():
            is_pane = name in PANES
            met = ("yes" if t["median_ms"] <= PANE_TARGET_MS else "no") if is_pane else "(other view)"
            err = f" ({t['error']})" if "error" in t else ""
            lines.append(
                f"| {name}{err} | {t['first_ms']:.0f} | {t['median_ms']:.0f} | {t.get('cpu_ms', float('nan')):.0f}"
                f" | {met} |"
            )
    for key, title in (("probe_ingested", "ingested store"), ("probe_ingested_tail", "ingested store, while tailing"),
                       ("probe_synthetic", "synthetic store"),
                       ("probe_synthetic_tail", "synthetic store, while tailing")):  # fmt: skip
        p = res.summary.get(key)
        if p:
            lines.append("")
            lines.append(
                f"Dashboard-like process on the {title}: RSS {p['rss_mb']:.0f} MB now, {p['hwm_mb']:.0f} MB peak."
            )
    for key, title in (("tui_ingested", "ingested store"), ("tui_synthetic", "synthetic store")):
        t = res.summary.get(key)
        if t and t.get("rss_peak_mb") is not None:
            lines.append("")
            lines.append(
                f"The dashboard itself on the {title} (120×36, a line appended and a pane switched every second for"
                f" {t['seconds']:.0f} s, {t['lines_appended']} lines): RSS {t['rss_started_mb']:.0f} MB once started,"
                f" {t['rss_end_mb']:.0f} MB at the end, {t['rss_peak_mb']:.0f} MB peak."
            )
    lines.extend(render_codex(res))
    if "scale_big_file" in res.summary:
        b = res.summary["scale_big_file"]
        lines.append("")
        lines.append(f"One {human(b['bytes'])} file (file-history snapshots, multi-MB lines): "
                     f"ingested in {b['wall_s']:.2f} s,"
                     f" peak RSS {b['maxrss_mb']:.0f} MB (one process), {b['tree_pss_mb']:.0f} MB (tree).")
    if "scale_many_files" in res.summary:
        s = res.summary["scale_many_files"]
        lines.append(f"{s['files']:,} transcript files: ingested in {s['wall_s']:.2f} s "
                     f"with at most {s['peak_open_fds']}"
                     f" file descriptors open across the process tree (sampled), peak RSS {s['maxrss_mb']:.0f} MB.")
    if "synthetic_store" in m:
        b = m["synthetic_store"]
        lines.append("")
        lines.append(
            f"Synthetic store: {b['copies']} replicas of the ingested store, {human(b['bytes'])},"
            f" built in {b['seconds']} s."
        )
    if res.failures:
        lines.append("")
        lines.extend(f"**FAILED:** {f}" for f in res.failures)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
