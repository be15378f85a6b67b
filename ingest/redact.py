"""Secret scrubbing and text redaction for anything that leaves the store (SPEC §8).

`scrub` runs on every string an export writes, whether or not prompt text is
kept: API keys, tokens, passwords and private keys become `[secret]`. `redact`
replaces transcript text with a marker that keeps only its length.

The secrets are data: `PATTERNS` lists each kind with a name, a regex and an
example on each side of the line, and the tests check every example. In a
pattern, the group named `secret` is what is replaced; a pattern without one
is a secret as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECRET = "[secret]"
"""What a scrubbed secret becomes."""

_KEY_CHARS = r"[A-Za-z0-9_\-]"
_VALUE = r"(?P<secret>[^\s\"'`,;&<>|]+)"
"""A command-line or assignment value: up to the next space, quote or shell separator."""
_NAME = (r"(?:[A-Za-z0-9]+[_\-])*[A-Za-z0-9]*(?:password|passwd|secret|token|api[_\-]?key|apikey|access[_\-]?key"
         r"|private[_\-]?key|[A-Za-z0-9]_pwd)")  # fmt: skip
"""A setting's name that says it holds a secret: PGPASSWORD, MYSQL_PWD, NPM_TOKEN, client-secret, API_KEY."""


@dataclass(frozen=True)
class SecretPattern:
    """One kind of secret: how to find it, and one text that has it and one that only looks like it."""

    name: str
    regex: str
    secret_example: str
    """Holds this kind of secret: scrub must change it."""
    plain_example: str
    """Close to one but not a secret: scrub must leave it exactly as it is."""
    flags: re.RegexFlag = re.NOFLAG
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.regex, self.flags))

    def sub(self, text: str) -> str:
        """`text` with this kind of secret replaced; names and schemes around it stay."""
        return self.compiled.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    if "secret" not in match.re.groupindex or match.group("secret") is None:
        return SECRET
    if match.group("secret") == SECRET:
        return match.group(0)
    start, end = match.start("secret") - match.start(), match.end("secret") - match.start()
    whole = match.group(0)
    return whole[:start] + SECRET + whole[end:]


PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern("anthropic-key", rf"sk-ant-{_KEY_CHARS}*",  # even cut short: the prefix alone marks one
                  "key sk-ant-api03-abcDEF", "the sk-ants-nest"),
    SecretPattern("sk-key", rf"(?<![A-Za-z0-9])sk-{_KEY_CHARS}{{16,}}",
                  "key sk-proj-abcdefghijklmnopqrstuvwxyz012345", "task-skeleton-is-fine"),
    SecretPattern("stripe-key", r"(?<![A-Za-z0-9])[rs]k_(?:live|test)_[A-Za-z0-9]{10,}",
                  "sk_live_abcdefghij0123", "sk_live_ short"),
    SecretPattern("aws-access-key-id", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])",
                  "aws AKIAIOSFODNN7EXAMPLE here", "AKIA is a prefix"),
    SecretPattern("aws-secret-key",
                  r"(?i)aws[_\-]?secret(?:[_\-]?access)?[_\-]?key[\"']?\s*[=:]?\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})"
                  r"(?![A-Za-z0-9/+=])",
                  "aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "set aws_secret_access_key in ~/.aws/credentials"),
    SecretPattern("github-token", r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{16,}",
                  "token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_short"),
    SecretPattern("github-pat", r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}",
                  "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "a github_pat_ prefix"),
    SecretPattern("slack-token", r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{8,}",
                  "slack xoxb-123456789012-abcdefghijkl", "xoxb-short"),
    SecretPattern("google-api-key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}",
                  "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "AIza alone"),
    SecretPattern("huggingface-token", r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}",
                  "hf_abcdefghijklmnopqrstuvwxyzABCDEF", "hf_hub_download"),
    SecretPattern("npm-token", r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{30,}",
                  "npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_config_cache"),
    SecretPattern("jwt", r"(?<![A-Za-z0-9])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
                  "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig", "eyJ alone"),
    SecretPattern("private-key",  # a block cut off by the store's text limit is scrubbed to the end
                  r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY-----|.*)",
                  "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
                  "-----BEGIN PUBLIC KEY-----", re.DOTALL),
    SecretPattern("authorization-header",
                  r"(?i)(?:\bbearer\s+|\bauthorization[\"']?\s*[:=]\s*[\"']?(?:basic\s+|bearer\s+|token\s+)?)"
                  r"(?P<secret>[A-Za-z0-9._~+/=\-]{8,})",
                  "curl -H 'Authorization: Bearer abc.def-ghi_jkl012'", "the bearer of bad news"),
    SecretPattern("url-credentials", r"://[^/\s:@]+:(?P<secret>[^/\s@]+)@",
                  "git clone https://bob:s3cr3tvalue@git.example.com/repo", "https://git.example.com:443/repo"),
    SecretPattern("secret-setting", rf"(?i)(?<![A-Za-z0-9]){_NAME}[\"']?\s*[=:]\s*[\"']?{_VALUE}",
                  "PGPASSWORD=hunter2 psql; MYSQL_PWD=x NPM_TOKEN=y HF_TOKEN=z", "max_tokens=4096 PWD=/home/dev"),
    SecretPattern("password-option",
                  rf"(?i)(?<![\w\-])--(?:[a-z]+-)*(?:password|passwd|pass|token|secret)(?:=|\s+){_VALUE}",
                  "psql --password hunter2; mysql --password=hunter2", "tiermon --password-file ~/.pw"),
    SecretPattern("mysql-p-option",
                  r"\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb)\b[^\n|;&]*?\s-p"
                  r"(?P<secret>[^\s\"'`,;&<>|]+)",
                  "mysql -uroot -phunter2 shop", "mkdir -p build && ssh -p2222 host"),
    SecretPattern("sshpass", r"\bsshpass\s+(?:-[a-oq-zA-Z]\S*\s+)*-p\s*(?P<secret>[^\s\"'`,;&<>|]+)",
                  "sshpass -p hunter2 ssh host", "sshpass -f ~/.pw ssh host"),
)
"""Every kind of secret `scrub` knows, most specific first: a key is replaced whole before a setting's value is."""

_HINT_RE = re.compile(
    r"(?i)sk-|sk_|akia|asia|aws|gh[pousr]_|github_pat|xox|aiza|hf_|npm_|eyj|private key|bearer|auth|token|pass|pwd"
    r"|secret|key|://|mysql|mariadb|-p"
)
"""A cheap first look: most strings hold none of these and skip the full patterns."""


def scrub(text: str) -> str:
    """Replace API keys, tokens, passwords and private keys with `[secret]`."""
    if not _HINT_RE.search(text):
        return text
    for pattern in PATTERNS:
        text = pattern.sub(text)
    return text


def redact(text: str | None) -> str | None:
    """Transcript text as a marker that keeps only its length; None stays None."""
    if text is None:
        return None
    return f"[redacted: {len(text)} chars]"
