"""Provides question churn: the model asking for permission it did not need (SPEC §4.3).

A turn *asks* when its last assistant text ends with `?` (trailing whitespace
and markdown ignored) or it calls AskUserQuestion. The ask is *needless* when
the next human prompt is a bare go-ahead: a few words, all of them assent
("yes", "ok go ahead", "sure, do it"). A reply carrying any instruction
("yes but use postgres") is not bare. Enough needless asks within a window of
turns raise `question_churn`.
"""

from __future__ import annotations

import re
from itertools import pairwise

from tiermon.ingest.config import Thresholds
from tiermon.ingest.signals.base import Alert, short
from tiermon.ingest.signals.turns import Turn

GO_AHEAD_WORDS = frozenset(
    [
        "y",
        "yes",
        "yep",
        "yeah",
        "yup",
        "ya",
        "yas",
        "ok",
        "okay",
        "k",
        "kk",
        "sure",
        "go",
        "ahead",
        "continue",
        "proceed",
        "do",
        "it",
        "please",
        "pls",
        "plz",
        "sounds",
        "looks",
        "good",
        "great",
        "fine",
        "alright",
        "right",
        "correct",
        "absolutely",
        "definitely",
        "of",
        "course",
        "thanks",
        "thank",
        "you",
        "ty",
        "that",
        "works",
        "perfect",
        "lgtm",
        "carry",
        "on",
        "keep",
        "going",
        "for",
        "thing",
        "and",
        "then",
        "now",
        "just",
        "so",
        "cool",
        "nice",
        "approved",
        "approve",
        "confirm",
        "confirmed",
        "agreed",
        "affirmative",
        "👍",
        "✅",
        "🚀",
        "go-ahead",
    ]
)
"""Words a bare go-ahead is made of; any other word makes the reply an instruction."""

_TRAILING = " \t\r\n*_~`'\")]>»”’"
"""Markdown and quoting that may close a question: `**Shall I proceed?**`."""
_PUNCT = ".,!?;:…-—'\"()[]*_`"


def asks(turn: Turn) -> bool:
    text = (turn.last_text or "").rstrip(_TRAILING)
    return turn.asked_tool or text.endswith("?")


def is_go_ahead(prompt: str | None, max_words: int) -> bool:
    """A reply of at most `max_words` words that only says go ahead."""
    if not prompt:
        return False
    words = [w.strip(_PUNCT) for w in re.split(r"[\s,]+", prompt.lower())]
    words = [w for w in words if w]
    return 0 < len(words) <= max_words and all(w in GO_AHEAD_WORDS for w in words)


def mark_asks(turns: list[Turn], thresholds: Thresholds) -> None:
    """Set `asks` and `needless_ask` on each turn from the prompt that follows it."""
    following = {t.n: nxt for t, nxt in pairwise(turns)}
    for t in turns:
        t.asks = t.n > 0 and asks(t)
        nxt = following.get(t.n)
        t.needless_ask = (
            t.asks
            and nxt is not None
            and nxt.n == t.n + 1
            and is_go_ahead(nxt.prompt, thresholds.go_ahead_max_words)
        )


def needless_in_window(turns: list[Turn], thresholds: Thresholds) -> dict[int, int]:
    """For each needless-ask turn, how many needless asks fall in the window ending at it."""
    needless = [t.n for t in turns if t.needless_ask]
    out = {}
    for i, n in enumerate(needless):
        out[n] = sum(1 for m in needless[: i + 1] if n - m < thresholds.churn_window)
    return out


def churn_alerts(turns: list[Turn], thresholds: Thresholds) -> list[Alert]:
    """One alert per cluster of needless asks dense enough to reach the threshold."""
    by_n = {t.n: t for t in turns}
    needless = [t.n for t in turns if t.needless_ask]
    window, need = thresholds.churn_window, thresholds.churn_asks
    marked: set[int] = set()
    for i in range(len(needless)):
        j = i
        while j + 1 < len(needless) and needless[j + 1] - needless[i] < window:
            j += 1
        if j - i + 1 >= need:
            marked.update(needless[i : j + 1])
    clusters: list[list[int]] = []
    for n in sorted(marked):
        if clusters and n - clusters[-1][-1] < window:
            clusters[-1].append(n)
        else:
            clusters.append([n])
    alerts = []
    for cluster in clusters:
        first, last = by_n[cluster[0]], by_n[cluster[-1]]
        reply = by_n.get(last.n + 1)
        replies = [short(by_n[n + 1].prompt, 30) for n in cluster if n + 1 in by_n]
        alerts.append(
            Alert(
                kind="question_churn", severity="warn", start=first.start,
                end=reply.start if reply else last.end, turn=first.n,
                message=(
                    f"{len(cluster)} needless questions in turns {first.n}–{last.n}, each answered only with "
                    + ", ".join(f'"{r}"' for r in replies[:4])
                ),
                figures={
                    "needless_asks": len(cluster), "turns": cluster, "replies": replies,
                    "window_turns": window, "threshold": need,
                    "cost_usd": round(sum(by_n[n].main_cost for n in cluster), 6),
                },
            )
        )  # fmt: skip
    return alerts
