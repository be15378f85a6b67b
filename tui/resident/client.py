"""The command line's side of `tiermon serve`: forward a command, print what comes back.

Standard library only, imported before click or DuckDB: a forwarded report costs the
client little more than starting Python. Any trouble reaching a server (none running,
a stale socket, a server from another tiermon version, one that died mid-answer) means
`None`, and the command runs in this process as if no server existed.
"""

from __future__ import annotations

import _socket  # not `socket`: its enums and selectors cost the client's start ~6 ms
import os
import sys

from tiermon import __version__
from tiermon.tui.resident import ACCEPT_SECONDS, PROTOCOL, answerable, private_folder, receive, send, socket_path

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: this path stays free of typing
    from typing import Any


def forward(args: list[str]) -> int | None:
    """Run `tiermon ARGS` on a resident server: its exit status, or None to run it here."""
    if os.environ.get("TIERMON_NO_SERVE") or not answerable(args):
        return None
    path = socket_path()
    if not private_folder(os.path.dirname(path)):
        return None
    try:
        return _forward(path, args)
    except KeyboardInterrupt:
        return 130


def _forward(path: str, args: list[str]) -> int | None:
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(ACCEPT_SECONDS)  # a server that does not take the command soon: run it here
            sock.connect(path)
            send(sock, request(args))
            accepted, _ = receive(sock)
            if not accepted.get("accepted"):
                return None
            sock.settimeout(None)  # then as long as the command takes, as it would here
            reply, payload = receive(sock)
        finally:
            sock.close()
    except (OSError, ValueError):  # no server, a stale socket, a server gone mid-answer, a garbled reply
        return None
    if not isinstance(reply.get("status"), int) or not isinstance(reply.get("stdout"), int):
        return None
    split = reply["stdout"]
    try:
        _write(sys.stdout, payload[:split])
        _write(sys.stderr, payload[split:])
    except BrokenPipeError:
        return 0
    status: int = reply["status"]
    return status


def request(args: list[str]) -> dict[str, Any]:
    """Everything the answer depends on besides the files: arguments, environment, folder, terminal."""
    env = dict(os.environ)
    ttys = [_isatty(sys.stdout), _isatty(sys.stderr)]
    if ttys[0] and "COLUMNS" not in env:  # output cut to the terminal; piped output keeps its full rows
        try:
            size = os.get_terminal_size(1)
            env.update(COLUMNS=str(size.columns), LINES=str(size.lines))
        except OSError:
            pass
    return {
        "protocol": PROTOCOL, "version": __version__, "argv": args, "env": env, "cwd": os.getcwd(), "tty": ttys,
        "encoding": [[getattr(s, "encoding", None) or "utf-8", getattr(s, "errors", None) or "strict"]
                     for s in (sys.stdout, sys.stderr)],
    }  # fmt: skip


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _write(stream: Any, data: bytes) -> None:
    if not data:
        return
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode(getattr(stream, "encoding", None) or "utf-8", "replace"))
        stream.flush()
