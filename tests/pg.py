"""A throwaway PostgreSQL server on 127.0.0.1 for the team-sink tests.

`pg_server` (session scope) runs initdb and pg_ctl into a temporary folder
on a free port, with password (SCRAM) authentication over TCP, and stops
and removes it at the end. As root, the server runs as the `postgres` OS
user through runuser (initdb refuses root). The tests skip only when no
server binaries exist; a server that exists but fails to start is an error.

`team_db` gives each test a fresh database set up the way the README tells
an admin to: a schema owned by the pushers' role and a read-only viewer.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ADMIN = "tiermon_admin"
PUSHER = "tiermon_push"
VIEWER = "tiermon_view"
PASSWORDS = {ADMIN: "admin-pw-7Qx2", PUSHER: "push-pw-Zk81w", VIEWER: "view-pw-Jt44m"}
"""Distinctive so that a test can prove no output ever shows one."""


def server_bindir() -> Path | None:
    """The newest PostgreSQL server bin folder here: Debian's layout, then PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    for folder in reversed(candidates):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    passwords = PASSWORDS
    """Every role's password, so that tests can check no output shows one."""

    def url(self, role: str = ADMIN, dbname: str = "postgres", password: str | None = None) -> str:
        secret = PASSWORDS[role] if password is None else password
        return f"postgresql://{role}:{secret}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(self.url(ADMIN, dbname), autocommit=True)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{log[-2000:]}")

    def start(self) -> None:
        data = self.root / "data"
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORDS[ADMIN] + "\n")
        self._chown(pwfile)
        self._run("initdb", "-D", str(data), "-U", ADMIN, f"--pwfile={pwfile}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")  # fmt: skip
        self._run("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def _chown(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no postgres or nobody user to run the server as")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A running server with the pusher and viewer roles; skipped only when PostgreSQL is not installed."""
    pytest.importorskip("psycopg")
    bindir = server_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    run_as = _service_user()
    root = Path(tempfile.mkdtemp(prefix="tiermon-pg-"))  # not under pytest's 0700 tmp: the server user must reach it
    os.chmod(root, 0o700)
    server = PgServer(bindir, root, _free_port(), run_as)
    server._chown(root)
    try:
        for attempt in range(3):
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                shutil.rmtree(root / "data", ignore_errors=True)
                server.port = _free_port()
        with server.admin() as con:
            for role in (PUSHER, VIEWER):
                con.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORDS[role]}'")
            con.execute(f"ALTER ROLE {VIEWER} SET default_transaction_read_only = on")
        yield server
    finally:
        try:
            if (root / "data" / "postmaster.pid").exists():
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class TeamDb:
    server: PgServer
    name: str

    @property
    def push_url(self) -> str:
        return self.server.url(PUSHER, self.name)

    @property
    def view_url(self) -> str:
        return self.server.url(VIEWER, self.name)

    @property
    def admin_url(self) -> str:
        return self.server.url(ADMIN, self.name)

    def push_url_with(self, password: str) -> str:
        return self.server.url(PUSHER, self.name, password=password)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.server.admin(self.name) as con:
            return list(con.execute(sql, params).fetchall())


def setup_team_database(con: Any, pusher: str = PUSHER, viewer: str = VIEWER) -> None:
    """The README's admin steps, inside the new database."""
    con.execute(f"CREATE SCHEMA tiermon AUTHORIZATION {pusher}")
    con.execute(f"GRANT USAGE ON SCHEMA tiermon TO {viewer}")
    con.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {pusher} IN SCHEMA tiermon GRANT SELECT ON TABLES TO {viewer}")


@pytest.fixture
def team_db(pg_server: PgServer) -> Iterator[TeamDb]:
    """A fresh database per test, set up for a pusher role and a read-only viewer role."""
    name = f"team_{uuid.uuid4().hex[:10]}"
    with pg_server.admin() as con:
        con.execute(f"CREATE DATABASE {name}")
    with pg_server.admin(name) as con:
        setup_team_database(con)
    yield TeamDb(pg_server, name)
    with pg_server.admin() as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
