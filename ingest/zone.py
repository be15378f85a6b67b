"""The machine's time zone name, found without importing datetime or zoneinfo.

Reports cut days in it, and the answer cache keys on it, so it must be as
cheap to compute as an environment lookup.
"""

from __future__ import annotations

import os


def local_timezone(env: dict[str, str] | None = None) -> str:
    """The machine's IANA zone name (TZ, then /etc/localtime), else UTC."""
    tz = (os.environ if env is None else env).get("TZ", "").lstrip(":")
    if (tz and "/" in tz) or tz == "UTC":
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except (OSError, ValueError):
        return "UTC"
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    return "UTC"
