"""`tiermon serve` and the command line's forwarding to it, with real processes, sockets and files.

What a user must never notice except in speed: a forwarded command prints the same bytes
and exits with the same status as the command run in its own process; a server that is
gone, stale or of another version just means the command runs where it was typed; and
the store stays open to every other tiermon while a server runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import CliResult
from transcripts import assistant, prompt, usage, write

S = "77777777-2222-3333-4444-555555555555"
Run = Callable[..., CliResult]
EXE = str(Path(sys.executable).with_name("tiermon"))
LOCAL = {"TIERMON_NO_SERVE": "1"}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    write(root / "projects" / "-home-dev-shop" / f"{S}.jsonl", [
        prompt(S, "u1", 0, "hello"),
        assistant(S, "a1", 10, "m1", "r1", "claude-opus-4-6", usage(inp=100, out=200, read=1000, w5=50)),
        assistant(S, "a2", 3600, "m2", "r2", "claude-haiku-4-5-20251001", usage(inp=10, out=20)),
    ])  # fmt: skip
    return root


def socket_file() -> Path:
    return Path(os.environ["TIERMON_DATA_DIR"]) / "run" / "serve.sock"


class Served:
    """A running `tiermon serve` and what it logged."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.log = ""

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, self.log = self.proc.communicate(timeout=20)
        return self.log


def start_server(*args: str) -> Served:
    proc = subprocess.Popen([EXE, *args, "serve"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while not _listening():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"tiermon serve did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    return Served(proc)


def _listening() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(socket_file()))
        except OSError:
            return False
    return True


@pytest.fixture
def server(src: Path, db: Path) -> Iterator[Served]:
    served = start_server("--db", str(db), "--source", str(src))
    try:
        yield served
    finally:
        served.stop()


def test_a_forwarded_command_prints_and_exits_as_if_run_here(tiermon: Run, src: Path, db: Path, server: Served) -> None:
    base = ("--db", str(db), "--source", str(src))
    commands = [
        (*base, "report", "daily", "--json"),
        ("report", "session", "--breakdown", *base),  # a table, global options after the command
        (*base, "report", "model", "--csv"),
        (*base, "sessions", "--json"),
        (*base, "alerts", "--json"),
        (*base, "report", "daily", "--since", "2026-13-01"),  # a usage error: exit 2 and one line
        (*base, "show", "nothing-like-it"),  # a session id that names nothing: exit 2
    ]
    statuses = []
    for args in commands:
        served = tiermon(*args, check=False)
        local = tiermon(*args, check=False, env=LOCAL)
        assert (served.returncode, served.stdout, served.stderr) == (local.returncode, local.stdout, local.stderr), args
        assert "Traceback" not in served.stderr
        statuses.append(served.returncode)
    assert statuses == [0, 0, 0, 0, 0, 2, 2]
    log = server.stop()
    answered = [line.rsplit(" -> ", 1)[1].split()[0] for line in log.splitlines() if " -> " in line]
    assert answered == [str(s) for s in statuses], log  # every one was the server's, none ran in the client
    assert not socket_file().exists()  # a stopped server leaves no socket behind


def test_a_line_appended_is_counted_by_the_next_forwarded_report(tiermon: Run, src: Path, db: Path,
                                                                  server: Served) -> None:  # fmt: skip
    report = ["--db", str(db), "--source", str(src), "report", "daily", "--json", "--timezone", "UTC"]
    before = json.loads(tiermon(*report).stdout)["totals"]
    transcript = src / "projects" / "-home-dev-shop" / f"{S}.jsonl"
    for n in range(3):
        write(transcript, [assistant(S, f"b{n}", 7200 + n, f"mb{n}", f"rb{n}", "claude-opus-4-6", usage(inp=1, out=7))],
              mode="a")  # fmt: skip
        after = json.loads(tiermon(*report).stdout)["totals"]
        assert (after["requests"], after["output_tokens"]) == (before["requests"] + n + 1, before["output_tokens"] + 7 * (n + 1))
    # A new transcript in a new project folder is found too (the server's listing of the folders is not stale).
    write(src / "projects" / "-home-dev-other" / "88888888-2222-3333-4444-555555555555.jsonl",
          [assistant("88888888-2222-3333-4444-555555555555", "c1", 9000, "mc1", "rc1", "claude-opus-4-6", usage(out=5))])
    assert json.loads(tiermon(*report).stdout)["totals"]["requests"] == before["requests"] + 4
    assert server.stop().count(" -> 0 ") == 5


def test_other_processes_get_the_store_while_a_server_keeps_it(tiermon: Run, src: Path, db: Path,
                                                                server: Served) -> None:  # fmt: skip
    report = ["--db", str(db), "--source", str(src), "report", "daily", "--json"]
    first = json.loads(tiermon(*report).stdout)["totals"]  # the server now holds the file open
    started = time.monotonic()
    tiermon("--db", str(db), "--source", str(src), "ingest", env={"TIERMON_LOCK_WAIT": "3"})
    holder = subprocess.run(
        [sys.executable, "-c", "import sys, duckdb; duckdb.connect(sys.argv[1]).close(); print('opened')", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert holder.stdout.strip() == "opened", holder.stderr  # a plain DuckDB open: the server had let go, unasked
    assert time.monotonic() - started < 10
    assert json.loads(tiermon(*report).stdout)["totals"] == first  # and it takes the file back for the next answer
    assert server.stop().count(" -> 0 ") == 2


def test_a_terminal_gets_its_own_width_and_colours(src: Path, db: Path, server: Served) -> None:
    """A table for a terminal is laid out for the client's terminal, not the server's."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    args = [EXE, "--db", str(db), "--source", str(src), "report", "daily"]
    served = _in_terminal(args, env, columns=72)
    local = _in_terminal(args, {**env, **LOCAL}, columns=72)
    assert served == local
    assert b"\x1b[" in served  # colours, as on a terminal
    widths = {len(line) for line in _plain(served).splitlines() if line.strip()}
    assert max(widths) <= 72
    assert server.stop().count(" -> 0 ") == 1


def test_without_a_live_server_the_command_runs_here(tiermon: Run, src: Path, db: Path) -> None:
    path = socket_file()
    path.parent.mkdir(mode=0o700, parents=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # a socket file nobody listens on: a server that was killed
    report = ("--db", str(db), "--source", str(src), "report", "daily", "--json")
    assert json.loads(tiermon(*report).stdout)["totals"]["requests"] == 2
    served = start_server("--db", str(db), "--source", str(src))  # it replaces the stale socket
    try:
        assert json.loads(tiermon(*report).stdout)["totals"]["requests"] == 2
    finally:
        assert served.stop().count(" -> 0 ") == 1


def test_a_second_server_and_a_shared_folder_are_one_line_errors(tiermon: Run, src: Path, db: Path,
                                                                  server: Served, tmp_path: Path) -> None:  # fmt: skip
    second = tiermon("--db", str(db), "serve", check=False)
    assert second.returncode == 2 and "already answering" in second.stderr and "Traceback" not in second.stderr
    shared = tmp_path / "shared-run"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    refused = tiermon("--db", str(db), "serve", check=False, env={"TIERMON_RUN_DIR": str(shared)})
    assert refused.returncode == 2 and "0700" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    # A client never uses a socket in a folder others can enter: it runs the command itself.
    report = tiermon("--db", str(db), "--source", str(src), "report", "daily", "--json",
                     env={"TIERMON_RUN_DIR": str(shared)})  # fmt: skip
    assert json.loads(report.stdout)["totals"]["requests"] == 2
    assert " -> " not in server.stop()


def test_a_server_of_another_version_sends_the_command_back(server: Served, src: Path, db: Path) -> None:
    from tiermon.tui.resident import receive, send
    from tiermon.tui.resident.client import request

    message = request(["--db", str(db), "--source", str(src), "report", "daily", "--json"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(socket_file()))
        send(sock, {**message, "version": "0.0.0-other"})
        reply, payload = receive(sock)
    assert reply.get("accepted") is False and payload == b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # and it only runs the commands it may
        sock.connect(str(socket_file()))
        send(sock, {**message, "argv": ["--db", str(db), "ingest"]})
        assert receive(sock)[0].get("accepted") is False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # garbage does not stop it
        sock.connect(str(socket_file()))
        sock.sendall(b"\x00\x00\x00\x05hello")
    time.sleep(0.2)
    assert server.proc.poll() is None
    assert " -> " not in server.stop()


def _in_terminal(args: list[str], env: dict[str, str], columns: int) -> bytes:
    """What `args` writes to a pseudo-terminal of `columns` × 40."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's last writer exited
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=30)
        os.close(leader)
    return out


def _plain(raw: bytes) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", raw.decode("utf-8", "replace")).replace("\r", "")


def test_a_server_whose_code_changed_on_disk_sends_commands_back_and_stops(db: Path) -> None:
    """After an upgrade (or an edit in a checkout) a running server must not answer with the old code."""
    from tiermon.ingest.config import load_settings
    from tiermon.tui.resident import PROTOCOL
    from tiermon.tui.resident.server import Server, _code_changed

    server = Server(load_settings(db=db))
    request = {"protocol": PROTOCOL, "version": __import__("tiermon").__version__, "argv": ["report", "daily"],
               "env": {}, "cwd": "/", "tty": [False, False], "encoding": [["utf-8", "strict"]] * 2}  # fmt: skip
    assert server._refusal(request) is None and not _code_changed(server._code)
    some_file = next(path for path in server._code if path.endswith("store.py"))
    server._code[some_file] -= 1  # as if the file had been replaced since the server started
    assert server._refusal(request) == "tiermon changed on disk"


def test_only_the_command_word_decides_what_is_forwarded() -> None:
    """An argument that merely equals a command's name (Codex keeps its rollouts in `sessions/`) must not send
    the dashboard or `ingest` to the server: it would run them there, in its own terminal, for good."""
    from tiermon.tui.resident import command_of

    assert command_of(["--db", "x", "report", "daily"]) == "report"
    assert command_of(["--source", "sessions"]) is None  # the dashboard
    assert command_of(["--source", "codex=/home/u/.codex/sessions", "--demo"]) is None
    assert command_of(["--db=x", "--agent", "codex", "sessions", "--json"]) == "sessions"
    assert command_of(["--source", "report", "ingest"]) == "ingest"
    assert command_of(["export", "--out", "report"]) == "export"
    assert command_of(["--version"]) is None


def test_a_command_that_is_not_answered_runs_here_even_when_an_argument_names_one(
    tiermon: Run, tmp_path: Path, db: Path, src: Path
) -> None:
    named = tmp_path / "report"  # a source folder that happens to be called like a command
    named.mkdir()
    (src / "projects").rename(named / "projects")
    served = start_server("--db", str(db), "--source", str(named))
    try:
        out = tiermon("--db", str(db), "--source", str(named), "ingest").stdout
        assert "Read 1 of 1 files" in out
    finally:
        assert " -> " not in served.stop()  # the server ran nothing


def test_piped_output_keeps_full_rows_when_only_stderr_is_a_terminal(src: Path, db: Path, server: Served) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    args = [EXE, "--db", str(db), "--source", str(src), "report", "session"]
    served, local = _stdout_piped_stderr_on_terminal(args, env, 40), _stdout_piped_stderr_on_terminal(args, {**env, **LOCAL}, 40)
    assert served == local
    assert max(len(line) for line in served.splitlines()) > 40  # a file gets whole rows, not the terminal's width
    assert server.stop().count(" -> 0 ") == 1


def test_a_store_moved_aside_is_not_answered_from(tiermon: Run, src: Path, db: Path, server: Served) -> None:
    """The documented fix for a damaged store is to move it aside: a server must answer from the file the path
    names now, never from the one it had open."""
    sessions = ("--db", str(db), "--source", str(src), "sessions", "--json")
    assert len(json.loads(tiermon(*sessions).stdout)["sessions"]) == 1
    db.rename(db.with_name("aside.duckdb"))
    for path in src.rglob("*.jsonl"):
        path.unlink()
    time.sleep(0.1)  # an idle tick of the server
    served, local = tiermon(*sessions), tiermon(*sessions, env=LOCAL)
    assert served.stdout == local.stdout and json.loads(served.stdout)["sessions"] == []
    assert server.stop().count(" -> 0 ") == 2


def test_a_request_the_server_cannot_write_is_sent_back_not_fatal(server: Served, src: Path, db: Path) -> None:
    from tiermon.tui.resident import receive, send
    from tiermon.tui.resident.client import request

    message = request(["--db", str(db), "--source", str(src), "report", "daily", "--json"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(socket_file()))
        send(sock, {**message, "encoding": [["no-such-codec", "strict"], ["utf-8", "strict"]]})
        reply, _ = receive(sock)
    assert reply.get("accepted") is False
    assert server.proc.poll() is None and _listening()
    assert " -> " not in server.stop()


def test_the_code_fingerprint_ignores_compiled_files() -> None:
    """Python writes __pycache__ on a module's first import: not a change of tiermon's code."""
    from tiermon.tui.resident.server import _code_fingerprint

    paths = _code_fingerprint()
    assert any(path.endswith("store.py") for path in paths)
    assert not any("__pycache__" in path for path in paths)


def _stdout_piped_stderr_on_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    try:
        result = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, env=env, timeout=60, check=True)
    finally:
        os.close(follower)
        os.close(leader)
    return result.stdout.decode()


def test_doctor_says_whether_a_server_answers(tiermon: Run, src: Path, db: Path) -> None:
    base = ("--db", str(db), "--source", str(src))
    alone = json.loads(tiermon(*base, "doctor", "--json").stdout)["serve"]
    assert alone["running"] is False and alone["socket"] == str(socket_file())
    served = start_server(*base)
    try:
        tiermon(*base, "report", "daily", "--json")
        report = json.loads(tiermon(*base, "doctor", "--json").stdout)["serve"]
        assert report["running"] is True
        assert (report["pid"], report["store"], report["answered"]) == (served.proc.pid, str(db), 1)
        assert f"pid {served.proc.pid}, 1 answered" in tiermon(*base, "doctor").stdout
    finally:
        assert served.stop().count(" -> 0 ") == 1  # the doctor's question is not an answer


def test_a_forwarded_command_waits_as_long_as_its_own_environment_says(tiermon: Run, src: Path, db: Path,
                                                                       server: Served) -> None:  # fmt: skip
    """TIERMON_LOCK_WAIT is the client's, not the server's (3 s here): read per command, not at import."""
    report = ("--db", str(db), "--source", str(src), "report", "daily", "--json")
    tiermon(*report)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from tiermon.ingest.store import _connect;"
         " c = _connect(Path(sys.argv[1]), False, 10); print('held', flush=True); time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,  # it knocks, and the server lets go
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        served = tiermon(*report, check=False, env={"TIERMON_LOCK_WAIT": "1"})
        local = tiermon(*report, check=False, env={"TIERMON_LOCK_WAIT": "1", **LOCAL})
    finally:
        holder.kill()
        holder.wait()
    assert served.returncode == local.returncode == 2
    assert served.stderr == local.stderr and "over 1s" in served.stderr
    assert " -> 2 " in server.stop()
