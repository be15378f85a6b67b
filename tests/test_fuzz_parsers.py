"""Fuzz: arbitrary bytes, arbitrary JSON and mutated real lines never stop any source's parser (SPEC §8).

Every registered format gets the same three kinds of input. Whatever comes in, `parse` returns a batch
(bad lines quarantined, never raised), every stored token count is an integer in 0..2^53, every row
names its agent and vendor, no kept free text holds a control character other than newline and tab, and
the parse state survives the round trip through the file's mark.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tiermon.samples
from conftest import CORPUS
from tiermon.ingest.rows import EVENT_FIELDS, MAX_TOKENS, RESPONSE_FIELDS, Batch, Format
from tiermon.ingest.sources import FORMATS, SOURCES

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                 "cache_write_1h_tokens", "reasoning_tokens")  # fmt: skip
TEXT_COLUMNS = ("text",)
"""Free text a source keeps is cleaned when stored; identifiers (model, name, subtype) are stored as read
and made printable on every output (tests/test_fuzz_output.py)."""
DATABASE_FORMATS = {"opencode-db"}
"""Formats that open their path (SQLite) instead of reading the bytes they are handed."""
LINE_FORMATS = [f for f in FORMATS.values() if f.name not in DATABASE_FORMATS]

HOSTILE_VALUES = [2**63, 2**53 + 1, -1, 12.5, 1e30, "abc", [5], {"a": None}, None, True, "\x1b[31m", "\x9b2J",
                  "\u202e", "[/zz]", "", 0]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(HOSTILE_VALUES),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


def _real_lines() -> list[bytes]:
    """Lines of every format, from the corpus when present and from the bundled samples' generator."""
    lines: list[bytes] = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*.json*"))[:40]:
            lines += [ln for ln in path.read_bytes().splitlines() if 0 < len(ln) < 20_000][:60]
    samples = Path(tiermon.samples.__file__).parent
    for path in sorted(samples.rglob("*.jsonl"))[:20]:
        lines += [ln for ln in path.read_bytes().splitlines() if 0 < len(ln) < 20_000][:30]
    return lines or [b'{"type": "assistant"}']


REAL_LINES = _real_lines()


def _mutate(line: bytes, rng: random.Random) -> bytes:
    """The line with one leaf value replaced by a hostile one (or cut short, when it is not JSON)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return line[: rng.randrange(len(line) + 1)]
    leaves = list(_leaf_paths(obj))
    if not leaves:
        return line
    *parents, last = rng.choice(leaves)
    target = obj
    for key in parents:
        target = target[key]
    target[last] = rng.choice(HOSTILE_VALUES)
    return json.dumps(obj).encode()


def _leaf_paths(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaf_paths(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaf_paths(value, (*path, i))
    elif path:
        yield path


def _check(fmt: Format, buf: bytes, path: str) -> None:
    state = fmt.new_state()
    batch = fmt.parse(buf, 0, path, state)
    assert isinstance(batch, Batch)
    _check_rows(batch)
    assert fmt.load_state(Format.dump_state(state)) == state


def _check_rows(batch: Batch) -> None:
    responses, events = batch.responses, batch.events
    for name in RESPONSE_FIELDS:
        assert len(responses.get(name, ())) == batch.response_count
    for name in EVENT_FIELDS:
        assert len(events.get(name, ())) == batch.event_count
    for name in TOKEN_COLUMNS:
        for value in responses.get(name, ()):
            assert value is None or (type(value) is int and 0 <= value <= MAX_TOKENS), (name, value)
    for agent, vendor in zip(responses.get("agent", ()), responses.get("vendor", ()), strict=True):
        assert agent and vendor
    for name in TEXT_COLUMNS:
        for value in events.get(name, ()):
            assert value is None or not any(ord(c) < 32 and c not in "\n\t" for c in str(value)), (name, value)


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", LINE_FORMATS, ids=lambda f: f.name)
@FUZZ
@given(data=st.lists(st.binary(max_size=200), min_size=1, max_size=4))
def test_arbitrary_bytes(fmt: Format, data: list[bytes]) -> None:
    _check(fmt, b"\n".join(line.replace(b"\n", b" ") for line in data) + b"\n", "/fuzz/session-x.jsonl")


@pytest.mark.parametrize("fmt", LINE_FORMATS, ids=lambda f: f.name)
@FUZZ
@given(values=st.lists(json_values, min_size=1, max_size=4))
def test_arbitrary_json(fmt: Format, values: list[Any]) -> None:
    _check(fmt, b"".join(json.dumps(v).encode() + b"\n" for v in values), "/fuzz/session-x.jsonl")


@pytest.mark.parametrize("fmt", LINE_FORMATS, ids=lambda f: f.name)
@FUZZ
@given(seed=st.integers(min_value=0, max_value=2**32), count=st.integers(min_value=1, max_value=6))
def test_mutated_real_lines(fmt: Format, seed: int, count: int) -> None:
    rng = random.Random(seed)
    lines = [_mutate(rng.choice(REAL_LINES), rng) for _ in range(count)]
    _check(fmt, b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines), "/fuzz/session-x.jsonl")


@FUZZ
@given(data=st.binary(max_size=400))
def test_a_database_format_survives_any_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("opencode") / "opencode.db"
    path.write_bytes(data)
    for name in DATABASE_FORMATS:
        _check(FORMATS[name], data, str(path))


def test_a_parser_bug_quarantines_its_bytes_and_the_pass_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiermon.ingest import tailer
    from tiermon.ingest.rows import SourceFile

    def broken(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
        raise KeyError("a field the parser assumed")

    claude = SOURCES["claude"]
    monkeypatch.setattr(claude, "formats", (*claude.formats, Format("broken", broken)))
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n')
    work = tailer.Work(SourceFile(path, "claude", "broken"), path.stat(), None)
    [(batch, mark, _, reset)] = list(tailer.read_file(work))
    assert not reset and mark.offset == path.stat().st_size
    assert [q[2] for q in batch.quarantine] == ["broken parser failed (KeyError): tiermon bug"]
