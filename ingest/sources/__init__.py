"""The sources tiermon reads. Adding one is a module (or folder) of its own and one line here.

A source's module loads the first time its kind is looked up, not with this
package: a pass that reads only Claude Code transcripts (a report over
`--source DIR`) never imports the other agents' parsers (~10 ms of start-up).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module

from tiermon.ingest.rows import Format, Source, SourceFile

_MODULES: dict[str, str] = {
    "claude": "claude", "api": "api_log", "codex": "codex", "gemini": "gemini", "qwen": "qwen", "opencode": "opencode",
}  # fmt: skip
"""Kind -> the module (below this package) whose `SOURCE` reads it, in the order their files are listed."""


@cache
def _source(kind: str) -> Source:
    source: Source = import_module(f"{__name__}.{_MODULES[kind]}").SOURCE
    if source.kind != kind:
        raise RuntimeError(f"{_MODULES[kind]}.SOURCE has kind {source.kind!r}, registered as {kind!r}")
    return source


class _Sources(Mapping[str, Source]):
    """Kind -> source; listing the kinds imports nothing, looking one up imports its module."""

    def __getitem__(self, kind: str) -> Source:
        if kind not in _MODULES:
            raise KeyError(kind)
        return _source(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


class _Formats(Mapping[str, Format]):
    """Format name -> format, over every source (listing them imports every source)."""

    def _all(self) -> dict[str, Format]:
        return {fmt.name: fmt for source in SOURCES.values() for fmt in source.formats}

    def __getitem__(self, name: str) -> Format:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


SOURCES: Mapping[str, Source] = _Sources()
"""Kind (`--source KIND=DIR`) -> source, in the order their files are listed."""

FORMATS: Mapping[str, Format] = _Formats()
"""Format name (`SourceFile.format`) -> how to read it."""

DEFAULT_KIND = "claude"
"""What a bare `--source DIR` names."""


def format_of(file: SourceFile) -> Format:
    """The format that reads `file`, importing only its own source's module."""
    return next(fmt for fmt in SOURCES[file.kind].formats if fmt.name == file.format)
