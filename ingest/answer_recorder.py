"""Provides `Recorder`: the full CLI's side of the answer cache, storing what `ingest.answers` serves."""

from __future__ import annotations

import os
import time

from tiermon.ingest.answers import BUNDLED_PRICES, entry_path, request_key, write_entry
from tiermon.ingest.fingerprints import RACY_NS, Stat, code_digest, file_stat, loaded_code, racy_wait, tree_digest
from tiermon.ingest.roots import claude_roots

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any


class Recorder:
    """Gathers the state a report's answer rests on, in the order that keeps a stored answer sound.

    Config and price files are stat-ed before they are read and the sources
    before the report's ingest pass, so a change during the run leaves an
    entry that no longer matches (stale) rather than one that matches wrongly.
    The database is stat-ed while the report's read-only connection is open:
    DuckDB lets no process write then, so the stat belongs to the data the
    query read. Every stat must be old enough to pin its file (`racy_wait`).
    A recorder without a key does nothing; any error just means no entry.
    """

    def __init__(self, key: str | None, config_dir: str = "") -> None:
        self.key = key
        self.header: dict[str, Any] = {}
        self.db = ""
        self.db_before: list[Stat] = []
        self.files: dict[str, Stat] = {}
        self.files_ns = 0
        if key is not None:
            paths = (os.path.join(config_dir, "config.toml"), os.path.join(config_dir, "prices.toml"), BUNDLED_PRICES)
            self.files_ns = time.time_ns()
            self._guard(lambda: self.files.update((p, file_stat(p)) for p in paths))

    @classmethod
    def start(cls, argv: list[str] | None, config_dir: str | os.PathLike[str]) -> Recorder:
        """A recorder for this command line: idle unless it is a cacheable report and the cache is on."""
        try:
            key = request_key(argv) if argv is not None else None
        except Exception:  # noqa: BLE001 - an odd sys.stdout, say: then no answer is stored
            key = None
        return cls(key, os.fspath(config_dir))

    def sources(self, explicit: list[Path] | None, api_logs: list[Path]) -> None:
        """Fingerprint the files below the roots an ingest pass is about to read."""

        def fingerprint() -> None:
            roots = [str(p) for p in claude_roots(explicit)]
            logs = [str(p) for p in api_logs]
            self.header.update(sources=[str(p) for p in explicit] if explicit else None, roots=roots,
                               api_logs=logs, tree=tree_digest(roots, logs))  # fmt: skip

        self._guard(fingerprint)

    def before_query(self, db: str | os.PathLike[str]) -> None:
        """Stat the database once the report's read-only connection holds off every writer."""
        self.db = os.fspath(db)
        self._guard(lambda: self.db_before.extend(self._db_stats()))

    def after_query(self) -> None:
        """Check the database is as it was, and old enough that a later write will show in its stat.

        Called before the read-only connection closes, so no writer can have
        slipped in; a write made just before the query (this run's own ingest
        pass) is waited out here, which the query's own time usually covers.
        """
        self._guard(self._pin_db)

    def _pin_db(self) -> None:
        taken = time.time_ns()
        stats = self._db_stats()
        wait = max(racy_wait(s, taken) for s in stats)
        if stats != self.db_before or wait > RACY_NS:
            self.key = None  # changed under us, or a coarse file system: store nothing
        elif wait:
            time.sleep(wait / 1e9)

    def save(self, output: str) -> None:
        """Store the output unless a step failed or a config or price file stat was too fresh to pin it."""
        self._guard(lambda: self._save(output))

    def _save(self, output: str) -> None:
        if "tree" not in self.header or not self.db_before:
            return
        if any(racy_wait(s, self.files_ns) for s in self.files.values()):
            return
        files = [*self.files.items(), (self.db, self.db_before[0]), (self.db + ".wal", self.db_before[1])]
        paths = [p for p, _ in files] + self.header["roots"] + self.header["api_logs"]
        code = loaded_code()
        header = {**self.header, "key": self.key, "files": files, "code": code, "code_digest": code_digest(code),
                  "cwd": None if all(os.path.isabs(p) for p in paths + code) else os.getcwd()}  # fmt: skip
        write_entry(entry_path(self.key or ""), header, output)

    def _db_stats(self) -> list[Stat]:
        return [file_stat(self.db), file_stat(self.db + ".wal")]

    def _guard(self, step: Callable[[], None]) -> None:
        """Run one recording step; a failure disables the recorder, never the report."""
        if self.key is None:
            return
        try:
            step()
        except Exception:  # noqa: BLE001 - the cache is an optimisation: its failures are not the report's
            self.key = None
