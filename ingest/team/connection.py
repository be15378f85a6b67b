"""Provides the connection to the team database and its errors: one line each, never a password.

psycopg is optional (`tiermon[team]`), so it is imported only inside the
functions that talk to the server: importing this module works without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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


def _scrub(message: str, url: str) -> str:
    """One line of a server or driver message, without the password even if the driver echoed it."""
    line = next((part.strip() for part in message.strip().splitlines() if part.strip()), "")
    secret = _password(url)
    if secret:
        line = line.replace(secret, "***")
    return line


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

    try:
        params = conninfo_to_dict(url)
    except pg.Error as exc:
        raise TeamError(f"team database URL {mask_url(url)} is not valid: {_scrub(str(exc), url)}") from None
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
