"""Secret scrubbing and text redaction for anything that leaves the store (SPEC §8).

`scrub` runs on every string an export writes, whether or not prompt text is
kept: API keys, tokens, passwords and private keys become `[secret]`. `redact`
replaces transcript text with a marker that keeps only its length.
"""

from __future__ import annotations

import re

SECRET = "[secret]"
"""What a scrubbed secret becomes."""

_KEY_CHARS = r"[A-Za-z0-9_\-]"

_WHOLE: tuple[str, ...] = (
    # Anthropic keys, even cut short: the prefix alone marks one.
    rf"sk-ant-{_KEY_CHARS}*",
    # OpenAI-style and other `sk-` keys.
    rf"(?<![A-Za-z0-9])sk-{_KEY_CHARS}{{16,}}",
    # Stripe live/test keys.
    r"(?<![A-Za-z0-9])[rs]k_(?:live|test)_[A-Za-z0-9]{10,}",
    # AWS access key ids (long-lived and temporary).
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
    # GitHub tokens.
    r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{16,}",
    r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}",
    # Slack tokens.
    r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{8,}",
    # Google API keys.
    r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}",
    # JSON Web Tokens.
    r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
    # PEM private keys; a block cut off by the store's text limit is scrubbed to the end.
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY-----|.*)",
)
"""Patterns whose whole match is the secret."""

_WHOLE_RE = re.compile("|".join(f"(?:{p})" for p in _WHOLE), re.DOTALL)

_BEARER_RE = re.compile(
    r"(?i)(\bbearer\s+|\bauthorization[\"']?\s*[:=]\s*[\"']?(?:basic\s+|bearer\s+|token\s+)?)"
    r"([A-Za-z0-9._~+/=\-]{8,})"
)
"""`Authorization: Bearer …`, `Authorization: Basic …`: keep the scheme, drop the credential."""

_ASSIGNMENT_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    r"((?:[A-Za-z0-9]+[_\-])*(?:password|passwd|secret|api[_\-]?key|apikey|access[_\-]?key"
    r"|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|client[_\-]?secret|private[_\-]?key)"
    r"[\"']?\s*[=:]\s*[\"']?)"
    r"([^\s\"'`,;&<>]+)"
)
"""`password=…`, `API_KEY: …`, `"client_secret": "…"`: keep the name, drop the value."""

_URL_CREDENTIALS_RE = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")
"""`https://user:pass@host`."""

_HINT_RE = re.compile(
    r"(?i)sk-|sk_|akia|asia|gh[pousr]_|github_pat|xox|aiza|eyj|private key|bearer|auth|token|pass|secret|key|://"
)
"""A cheap first look: most strings hold none of these and skip the full patterns."""


def scrub(text: str) -> str:
    """Replace API keys, tokens, passwords and private keys with `[secret]`."""
    if not _HINT_RE.search(text):
        return text
    text = _WHOLE_RE.sub(SECRET, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + SECRET if m.group(2) != SECRET else m.group(0), text)
    text = _ASSIGNMENT_RE.sub(lambda m: m.group(1) + SECRET, text)
    return _URL_CREDENTIALS_RE.sub(r"\1" + SECRET + "@", text)


def redact(text: str | None) -> str | None:
    """Transcript text as a marker that keeps only its length; None stays None."""
    if text is None:
        return None
    return f"[redacted: {len(text)} chars]"
