"""`tiermon serve`: a resident process that runs forwarded commands as if typed in the client's shell.

Each request is run by the same click entry point as a typed command, with the
client's arguments, environment, working folder and terminal (tty flags, size,
encoding), so its output and exit status are what the client would have printed
itself. What the process keeps between requests is only what costs time to make
again: imported modules, the store's open file (`store.keep_open`, let go
whenever another process knocks), and the last listing of each source folder
(`discovery.scan`). Requests run one at a time, in the main thread: a pass may
fork its parse workers, as in a typed command.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from tiermon import __version__
from tiermon.ingest.config import Settings
from tiermon.ingest.store import KeptFile, keep_open, stop_keeping
from tiermon.tui.resident import PROTOCOL, ServeError, answerable, private_folder, receive, send, socket_path

IDLE_TICK_SECONDS = 0.02
"""How often an idle server checks for a knock: a waiting process gets the store within this."""
REQUEST_READ_SECONDS = 5.0
"""A client that connects and sends no full request within this is dropped."""


class Server:
    """Answers forwarded commands on the socket until stopped (a signal, or tiermon changing on disk)."""

    def __init__(self, settings: Settings, log: Callable[[str], None] = lambda line: None) -> None:
        self.settings = settings
        self.log = log
        self.path = Path(socket_path())
        self.stopping = False
        self.answered = 0
        self._code = _code_fingerprint()
        self._kept: KeptFile | None = None

    def serve(self, *, max_requests: int | None = None) -> None:
        """Bind, answer until stopped, then close the socket and let go of the store."""
        sock = self._bind()
        self._kept = keep_open(self.settings.db_path)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.log(f"answering at {self.path} (store {self.settings.db_path}); Ctrl-C stops")
            while not self.stopping and (max_requests is None or self.answered < max_requests):
                ready, _, _ = select.select([sock], [], [], IDLE_TICK_SECONDS)
                if not ready:
                    self._idle()
                    continue
                conn, _ = sock.accept()
                with conn:
                    self._answer(conn)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            stop_keeping(self.settings.db_path)

    def _bind(self) -> socket.socket:
        folder = self.path.parent
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700, parents=True)
        if not private_folder(str(folder)):
            raise ServeError(f"{folder} must be a folder of this user that no one else can enter (mode 0700)")
        if self.path.exists() or self.path.is_symlink():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(self.path))
                except OSError:
                    self.path.unlink()  # a server that died without cleaning up
                else:
                    raise ServeError(f"a tiermon serve is already answering at {self.path}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            raise ServeError(f"cannot listen at {self.path}: {exc.strerror or exc}") from exc
        os.chmod(self.path, 0o600)
        sock.listen(16)
        return sock

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:  # asked twice: stop now, even mid-answer
            raise KeyboardInterrupt
        self.stopping = True

    def _idle(self) -> None:
        """Let go of the store the moment another process knocks (a dashboard, an ingest, an export), or
        once its path names another file (moved aside, deleted): the next answer opens what it names now."""
        if self._kept is not None:
            self._kept.let_go_if_wanted()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_READ_SECONDS)
        try:
            if not _same_user(conn):
                return
            request, _ = receive(conn)
            conn.settimeout(None)
            if request.get("ping"):  # `tiermon doctor` asking who answers
                send(conn, {"pong": True, "pid": os.getpid(), "version": __version__,
                            "store": str(self.settings.db_path), "answered": self.answered})  # fmt: skip
                return
            reason = self._refusal(request)
            if reason:
                self.log(f"not answering ({reason}): the client runs the command itself")
                send(conn, {"accepted": False, "reason": reason})
                if reason == "tiermon changed on disk":
                    self.stopping = True
                return
            send(conn, {"accepted": True})
        except (OSError, ValueError, KeyError, TypeError):
            return  # a client that went away or sent garbage: nothing of the store depends on it
        started = time.perf_counter()
        try:
            status, out, err = run_forwarded(request)
        except Exception as exc:  # noqa: BLE001 - one request's failure (say, in capturing its output) is its own
            status, out, err = 1, b"", f"tiermon serve: {type(exc).__name__}: {exc}\n".encode()
        self.answered += 1
        self.log(f"{' '.join(request['argv'])} -> {status} in {(time.perf_counter() - started) * 1000:.0f} ms")
        with contextlib.suppress(OSError):  # a client gone meanwhile (Ctrl-C): its answer goes nowhere
            send(conn, {"status": status, "stdout": len(out)}, out + err)

    def _refusal(self, request: dict[str, Any]) -> str | None:
        """Why this server should not run the request (the client then runs it), or None."""
        if request.get("protocol") != PROTOCOL or request.get("version") != __version__:
            return "another tiermon version"
        if _code_changed(self._code):
            return "tiermon changed on disk"
        argv = request.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not answerable(argv):
            return "not a command this server runs"
        if not isinstance(request.get("env"), dict) or not isinstance(request.get("cwd"), str):
            return "malformed request"
        try:
            for encoding, errors in request["encoding"]:
                codecs.lookup(encoding)
                codecs.lookup_error(errors)
            if len(request["tty"]) != 2:
                return "malformed request"
        except (LookupError, TypeError, ValueError, KeyError):
            return "an encoding this server cannot write"
        return None


def run_forwarded(request: dict[str, Any]) -> tuple[int, bytes, bytes]:
    """Run one forwarded command line: (exit status, stdout bytes, stderr bytes)."""
    from tiermon.tui.cli import main

    out_tty, err_tty = (bool(t) for t in request["tty"])
    (out_enc, out_errors), (err_enc, err_errors) = request["encoding"]
    out, err = _Terminal(out_tty, out_enc, out_errors), _Terminal(err_tty, err_enc, err_errors)
    with (
        _client_context(request["env"], request["cwd"]),
        contextlib.redirect_stdout(out.text),
        contextlib.redirect_stderr(err.text),
        _no_stdin(),
    ):
        try:
            status = _status(main(list(request["argv"])), err)
        except SystemExit as exc:
            status = _status(exc.code, err)
        except Exception:  # noqa: BLE001 - what the interpreter would print for the client; the server goes on
            traceback.print_exc(file=err.text)
            status = 1
    return status, out.bytes(), err.bytes()


def _status(code: object, err: _Terminal) -> int:
    """An exit status as the interpreter makes it from sys.exit's argument."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err.text)
    return 1


class _Terminal:
    """A captured stream that answers `isatty()` and encodes as the client's stream would."""

    def __init__(self, tty: bool, encoding: str, errors: str) -> None:
        self.raw = _Bytes(tty)
        self.text = io.TextIOWrapper(self.raw, encoding=encoding, errors=errors, write_through=True)

    def bytes(self) -> bytes:
        self.text.flush()
        return self.raw.getvalue()


class _Bytes(io.BytesIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@contextlib.contextmanager
def _client_context(env: dict[str, str], cwd: str) -> Iterator[None]:
    """The client's environment (time zone included) and working folder, for the length of a request."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.chdir(cwd)
    try:
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        time.tzset()
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        time.tzset()
        os.chdir(saved_cwd)


@contextlib.contextmanager
def _no_stdin() -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO()
    try:
        yield
    finally:
        sys.stdin = saved


def _same_user(conn: socket.socket) -> bool:
    """The peer's uid, where the system says it (Linux): the folder's mode keeps others out elsewhere."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _code_fingerprint() -> dict[str, int]:
    """The mtime of each of tiermon's source files and folders (a folder's moves when a file is added
    or removed): a server started before an upgrade, or an edit in a checkout, must not answer with
    the old code. Listed once at start; `_code_changed` then only stats them (~0.5 ms)."""
    import tiermon
    import tiermon.ingest
    import tiermon.tui

    found: dict[str, int] = {}
    for package in (tiermon, tiermon.ingest, tiermon.tui):
        for folder, dirs, files in os.walk(Path(package.__file__ or "").parent):
            dirs[:] = [d for d in dirs if d != "__pycache__"]  # compiled on first import: not a change of code
            found[folder] = _mtime(folder)
            for name in files:
                if name.endswith((".py", ".toml", ".tcss")):
                    path = os.path.join(folder, name)
                    found[path] = _mtime(path)
    return found


def _code_changed(fingerprint: dict[str, int]) -> bool:
    return any(_mtime(path) != mtime for path, mtime in fingerprint.items())


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1
