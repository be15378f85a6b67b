"""Provides the connection to the team database and its errors: one line each, never a password.

psycopg is optional (`tiermon[team]`), so it is imported only inside the
functions that talk to the server: importing this module works without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT = 10

NO_URL = "no team database configured: set TIERMON_TEAM_URL or `url` under [team] in config.toml"


class TeamError(Exception):
    """A team-sink problem the user can act on; the message is one line with no password in it."""


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: what messages may show."""
    masked = re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", r"\1***", url)
    scheme, sep, rest = masked.partition("://")
    if not sep:
        return masked
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return masked
    return f"{scheme}://{rest[:at].split(':', 1)[0]}:***{rest[at:]}"


def _password(url: str) -> str | None:
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return None
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.Error:  # an unparsable URL is reported where it is used; here we only scrub
        return None
    return str(value) if value else None


_KEYWORD_PASSWORD = re.compile(r"(?i)password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)")


def _raw_passwords(url: str) -> list[str]:
    """The password as written in `url`, read without libpq: what libpq cannot parse it may still echo."""
    found = [m.group(1).strip("'") for m in _KEYWORD_PASSWORD.finditer(url)]
    _, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if sep and at >= 0 and ":" in rest[:at]:
        found.append(rest[:at].split(":", 1)[1])
    return [p for p in found if p]


def _secrets(url: str) -> list[str]:
    """Every form of the password a message could hold: as written, decoded, parsed, and the pieces an
    unencoded `@`, `/`, `:` or space cuts it into. Longest first, so a whole one is replaced before its pieces."""
    raw = _raw_passwords(url)
    forms = {*raw, *(unquote(p) for p in raw), _password(url) or ""}
    pieces = {piece for p in raw for piece in re.split(r"[@/:?# ]", p) if len(piece) >= 3}
    return sorted({f for f in forms | pieces if f}, key=len, reverse=True)


def _leaks(line: str, url: str) -> bool:
    """Whether any 4 characters in a row of the password (or a whole shorter one) are still in `line`."""
    for p in _raw_passwords(url):
        size = min(4, len(p))
        if any(p[i : i + size] in line for i in range(len(p) - size + 1)):
            return True
    return False


def _scrub(message: str, url: str, *, unparsed: bool = False) -> str:
    """One line of a server or driver message, without any part of the password even if the driver echoed it.

    `unparsed`: libpq could not read the URL, so its message may quote the URL raw and cut anywhere; then a
    message that still holds four characters of the password in a row is withheld. (Not after a parse: a
    server's "password authentication failed" would trip it for any password with a word in it.)
    """
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    for secret in _secrets(url):
        line = line.replace(secret, "***")
    if unparsed and _leaks(line.replace("***", ""), url):
        return "the driver's message is withheld because it quotes part of the password"
    return line


def _url_problem(url: str) -> str | None:
    """A mistake in `url` worth naming before libpq reads it: an unencoded `@` makes it take the password's tail
    for the host."""
    _, sep, rest = url.partition("://")
    userinfo = rest[: rest.rfind("@")] if sep and "@" in rest else ""
    if "@" in userinfo.split(":", 1)[-1] and ":" in userinfo:
        return "its password holds an unencoded '@': write it as %40"
    return None


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise TeamError("the team sink needs psycopg: pip install 'tiermon[team]'") from exc
    return psycopg


def _connect(url: str | None) -> psycopg.Connection[Any]:
    if not url:
        raise TeamError(NO_URL)
    pg = _psycopg()
    from psycopg.conninfo import conninfo_to_dict

    problem = _url_problem(url)
    if problem:
        raise TeamError(f"team database URL {mask_url(url)} is not valid: {problem}")
    try:
        params = conninfo_to_dict(url)
    except pg.Error as exc:
        detail = _scrub(str(exc), url, unparsed=True)
        raise TeamError(f"team database URL {mask_url(url)} is not valid: {detail}") from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", "tiermon")
    try:
        con: psycopg.Connection[Any] = pg.connect(autocommit=True, **params)
    except pg.Error as exc:
        raise TeamError(f"cannot reach the team database {mask_url(url)}: {_scrub(str(exc), url)}") from None
    return con


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """Driver and server errors become one-line TeamErrors naming the masked URL."""
    psycopg = _psycopg()
    errors = psycopg.errors
    try:
        yield
    except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction) as exc:
        raise TeamError(f"the team database {mask_url(url)} refused: {_scrub(str(exc), url)}") from None
    except psycopg.OperationalError as exc:
        raise TeamError(f"lost the team database {mask_url(url)}: {_scrub(str(exc), url)}") from None
    except psycopg.Error as exc:
        raise TeamError(f"team database {mask_url(url)}: {_scrub(str(exc), url)}") from None
