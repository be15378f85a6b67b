"""Provides the answer cache: a report's exact output, kept with the state it was computed from.

Over unchanged data, `tiermon report` spends its time importing click,
DuckDB and rich and then finding that nothing is new. An answer is stored
(by `answer_recorder.Recorder`) with everything it depends on: the request,
the environment and time zone, tiermon's code, the stat of every file below
the source roots, of the config and price files and of the database.
`tiermon.entry` re-checks all of it here and prints the stored output only
when nothing differs; anything else, a missing or damaged entry included,
means no answer and the full CLI runs. The fast path imports this module
before anything else, so it and its imports use the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import time
from pathlib import Path

from tiermon import __version__
from tiermon.ingest.fingerprints import blake2b, code_digest, file_stat, tree_digest
from tiermon.ingest.roots import claude_roots
from tiermon.ingest.zone import local_timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SWITCH_ENV = "TIERMON_ANSWER_CACHE"
"""Set to 0 to neither read nor write answers."""
MAX_ENTRIES = 64
"""Answers kept; the least recently used go first."""
CACHED_KINDS = ("daily", "weekly", "monthly", "session", "model")
"""Reports whose output depends only on stored data; `blocks` depends on the clock."""
FORMAT = 1
"""Bump when an entry's layout or meaning changes."""
BUNDLED_PRICES = os.path.join(os.path.dirname(__file__), "price_overrides.toml")
"""The shipped price overrides: a report depends on them as on the user's own price file (and on
genai-prices, which is pinned, so its data changes only with tiermon's version)."""
_GLOBAL_OPTIONS = {"--db", "--source", "--api-log"}
_REPORT_OPTIONS = {"--since", "--until", "--project", "--tier", "--by", "--source-kind", "--session", "--timezone"}
_FLAGS = {"--json", "--csv", "--breakdown"}
_REPEATABLE = {"--source", "--api-log"}
_KEY_ENV = ("CLAUDE_CONFIG_DIR", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "TZ")
_TABLE_ENV = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "TTY_COMPATIBLE",
              "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")  # fmt: skip
"""What Rich reads from the environment: a table's bytes depend on it, JSON's and CSV's do not."""
_SUFFIX = ".answer"


def enabled(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(SWITCH_ENV, "").strip().lower() not in ("0", "false", "off", "no")


def parse_request(argv: list[str]) -> dict[str, Any] | None:
    """The canonical form of a cacheable `report` command line, else None.

    Only options this module knows are accepted; a single-valued option given
    twice, or a value that looks like an option, makes the line uncacheable
    rather than guessing which one click would take.
    """
    options: dict[str, str] = {}
    repeated: dict[str, list[str]] = {"--source": [], "--api-log": []}
    flags: set[str] = set()
    kind = None
    seen_report = False
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        name, eq, value = token.partition("=")
        if not seen_report and token == "report":
            seen_report = True
        elif name in _GLOBAL_OPTIONS or (seen_report and name in _REPORT_OPTIONS):
            if not eq:
                if i == len(argv) or argv[i].startswith("-"):
                    return None
                value, i = argv[i], i + 1
            if name in _REPEATABLE:
                repeated[name].append(value)
            elif name in options:
                return None
            else:
                options[name] = value
        elif seen_report and token in _FLAGS:
            flags.add(token)
        elif seen_report and kind is None and token in CACHED_KINDS:
            kind = token
        else:
            return None
    if kind is None:
        return None
    return {"kind": kind, "options": options, "flags": sorted(flags), **repeated}


def request_key(argv: list[str], env: Mapping[str, str] | None = None) -> str | None:
    """Everything besides stored data that a report's output depends on, as one string; None: not cacheable."""
    env = os.environ if env is None else env
    request = parse_request(argv)
    out = sys.stdout
    if request is None or out is None or not enabled(env):
        return None
    table = not {"--json", "--csv"} & set(request["flags"])
    if table and out.isatty():
        return None  # a terminal's width and colours are not in the key
    names = {n for n in env if n.startswith("TIERMON_") and n != SWITCH_ENV} | set(_KEY_ENV)
    if table:
        names |= set(_TABLE_ENV)
    key = {
        "format": FORMAT, "tiermon": __version__, "request": request, "zone": local_timezone(dict(env)),
        "env": {n: env.get(n) for n in sorted(names)}, "stdout": [out.encoding, out.errors],
    }  # fmt: skip
    return json.dumps(key, sort_keys=True)


def answers_dir(env: Mapping[str, str] | None = None) -> str:
    """`<data dir>/answers`, the data dir found as `ingest.config` finds it but without platformdirs on Linux."""
    env = os.environ if env is None else env
    if env.get("TIERMON_DATA_DIR"):
        return os.path.join(env["TIERMON_DATA_DIR"], "answers")
    xdg, home = env.get("XDG_DATA_HOME", ""), env.get("HOME", "")
    if sys.platform == "linux" and not env.get("ANDROID_DATA") and (os.path.isabs(xdg) or os.path.isabs(home)):
        base = xdg if os.path.isabs(xdg) else os.path.join(home, ".local", "share")
        return os.path.join(base, "tiermon", "answers")
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("tiermon"), "answers")


def entry_path(key: str, env: Mapping[str, str] | None = None) -> str:
    return os.path.join(answers_dir(env), blake2b(key.encode(), digest_size=16).hexdigest() + _SUFFIX)


# -- the fast path ----------------------------------------------------------------


def lookup(argv: list[str]) -> str | None:
    """The stored output for this command line if everything it was computed from is unchanged."""
    key = request_key(argv)
    if key is None:
        return None
    path = entry_path(key)
    entry = read_entry(path)
    if entry is None or entry[0].get("key") != key or not still_holds(entry[0]):
        return None
    os.utime(path)  # recently used: evicted last
    return entry[1]


def still_holds(header: dict[str, Any]) -> bool:
    """Every recorded stat, root and file fingerprint equals the one on disk now; cheapest first."""
    if header["cwd"] is not None and header["cwd"] != os.getcwd():
        return False
    if any(file_stat(path) != recorded for path, recorded in header["files"]):
        return False
    if code_digest(header["code"]) != header["code_digest"]:
        return False
    roots = [str(p) for p in claude_roots([Path(s) for s in header["sources"]] if header["sources"] else None)]
    if roots != header["roots"]:
        return False
    return bool(tree_digest(roots, header["api_logs"]) == header["tree"])


# -- entries ----------------------------------------------------------------------


def read_entry(path: str) -> tuple[dict[str, Any], str] | None:
    """(header, output) of a well-formed entry written by this user, else None."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != _uid():
                return None
            data = fh.read()
        head, _, body = data.partition(b"\n")
        header = json.loads(head)
        if header.get("format") != FORMAT or header["length"] != len(body):
            return None
        if blake2b(body, digest_size=16).hexdigest() != header["digest"]:
            return None
        return header, body.decode("utf-8", "surrogatepass")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_entry(path: str, header: dict[str, Any], output: str) -> None:
    """Write atomically (temp file + rename), 0600 in a 0700 folder, then evict beyond MAX_ENTRIES."""
    body = output.encode("utf-8", "surrogatepass")
    header = {**header, "format": FORMAT, "length": len(body), "digest": blake2b(body, digest_size=16).hexdigest()}
    folder = os.path.dirname(path)
    _private_dir(folder)
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with open(fd, "wb") as fh:
            fh.write(json.dumps(header).encode() + b"\n" + body)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    evict(folder)


def evict(folder: str, keep: int = MAX_ENTRIES) -> None:
    """Remove the least recently used entries beyond `keep`, and temp files a crash left behind."""
    now = time.time_ns()
    entries: list[tuple[int, str]] = []
    with os.scandir(folder) as it:
        for e in it:
            if e.name.endswith(_SUFFIX):
                entries.append((e.stat().st_mtime_ns, e.path))
            elif e.name.endswith(".tmp") and now - e.stat().st_mtime_ns > 3600 * 10**9:
                _unlink(e.path)
    for _, path in sorted(entries)[: max(len(entries) - keep, 0)]:
        _unlink(path)


def _private_dir(folder: str) -> None:
    """The folder and the data dir above it, created 0700 like the database's: answers hold spend data."""
    os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if stat.S_IMODE(os.stat(folder).st_mode) != 0o700:
        os.chmod(folder, 0o700)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0
