"""A resident `tiermon serve` that answers the read-only commands of the same user over a Unix socket.

A report is mostly start-up: Python, click, DuckDB (~110 ms alone) and opening
the store cost a fresh `tiermon report` more than the pass and the answer. A
resident process has paid for all of that: the command line forwards the
command (its argv, environment, working folder and terminal) and prints what
comes back, and falls back to running it itself whenever no server answers.

This module is what both sides share, standard library only: where the socket
lives and how a message is framed.
"""

from __future__ import annotations

import json
import os
import stat
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: the client's path stays free of typing
    from typing import Any, Protocol

    class Connection(Protocol):
        """A connected socket: `socket.socket` on the server, the bare `_socket.socket` in the client."""

        def sendall(self, data: bytes, /) -> None: ...
        def recv(self, n: int, /) -> bytes: ...

ANSWERED = frozenset({"report", "sessions", "alerts", "advise", "show", "scorecard", "replay", "limits", "prices"})
"""Commands a server runs for a client: they read the store (after a pass) and print. Commands that
show progress, write files of their own, talk to the network or read stdin run where they are typed."""
GLOBAL_OPTIONS_WITH_VALUE = frozenset({"--db", "--source", "--api-log", "--agent"})
"""The program's options that take a value (tui/commands/common.py `global_options`)."""
SOCKET_NAME = "serve.sock"
PROTOCOL = 2
ACCEPT_SECONDS = 5.0
"""A client waits this long for the server to take its command (it runs one at a time), then runs it itself."""
_HEADER = struct.Struct("!I")
MAX_MESSAGE = 256 * 1024 * 1024


class ServeError(Exception):
    """`tiermon serve` cannot start (another is running, the socket's folder is not private): one line, exit 2."""


def command_of(argv: list[str]) -> str | None:
    """The subcommand `tiermon ARGV` runs: the first word that is neither a global option nor its value.
    None for the dashboard (no command, or `--demo`). An argument that merely equals a command's name
    (`--source sessions`, Codex's rollout folder) must not make the dashboard or `ingest` look answerable."""
    args = iter(argv)
    for arg in args:
        if arg == "--":
            return next(args, None)
        if arg in GLOBAL_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
        elif arg == "--demo":
            return None
    return None


def answerable(argv: list[str]) -> bool:
    """Whether a server runs this command line for a client (see ANSWERED)."""
    return command_of(argv) in ANSWERED


def run_dir(env: dict[str, str] | os._Environ[str] | None = None) -> str:
    """The folder of the socket, made 0700 by the server: TIERMON_RUN_DIR, else `run` in TIERMON_DATA_DIR
    (tests and benchmarks move everything there), else $XDG_RUNTIME_DIR/tiermon, else <tmp>/tiermon-<uid>."""
    env = os.environ if env is None else env
    if env.get("TIERMON_RUN_DIR"):
        return env["TIERMON_RUN_DIR"]
    if env.get("TIERMON_DATA_DIR"):
        return os.path.join(env["TIERMON_DATA_DIR"], "run")
    if env.get("XDG_RUNTIME_DIR"):
        return os.path.join(env["XDG_RUNTIME_DIR"], "tiermon")
    return os.path.join(env.get("TMPDIR") or "/tmp", f"tiermon-{os.getuid()}")


def socket_path(env: dict[str, str] | os._Environ[str] | None = None) -> str:
    """Paths are text here: pathlib costs the client's start ~10 ms."""
    return os.path.join(run_dir(env), SOCKET_NAME)


def private_folder(folder: str) -> bool:
    """Whether `folder` is a real folder of this user that no one else may enter: the socket runs
    commands as its owner, so it must never sit where another user could reach or replace it."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def probe(timeout: float = 1.0) -> dict[str, Any] | None:
    """What a running server says about itself (pid, store, answers so far), or None when none answers."""
    import socket

    path = socket_path()
    if not private_folder(os.path.dirname(path)):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            send(sock, {"protocol": PROTOCOL, "ping": True})
            reply, _ = receive(sock)
    except (OSError, ValueError):
        return None
    return {**reply, "socket": path} if reply.get("pong") else None


def send(sock: Connection, message: dict[str, Any], payload: bytes = b"") -> None:
    """A JSON header and raw bytes after it, each length-prefixed."""
    head = json.dumps(message).encode()
    sock.sendall(_HEADER.pack(len(head)) + head + _HEADER.pack(len(payload)) + payload)


def receive(sock: Connection) -> tuple[dict[str, Any], bytes]:
    """The counterpart of `send`; ConnectionError when the peer went away mid-message."""
    head = _exactly(sock, _length(sock))
    payload = _exactly(sock, _length(sock))
    message = json.loads(head)
    if not isinstance(message, dict):
        raise ConnectionError("malformed message")
    return message, payload


def _length(sock: Connection) -> int:
    (n,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    if n > MAX_MESSAGE:
        raise ConnectionError("message too large")
    return int(n)


def _exactly(sock: Connection, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
