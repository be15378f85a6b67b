"""The sources tiermon reads. Adding one is a module (or folder) of its own and one line here."""

from __future__ import annotations

from tiermon.ingest.rows import Format, Source
from tiermon.ingest.sources import api_log, claude, codex, gemini, opencode, qwen

_REGISTERED: tuple[Source, ...] = (
    claude.SOURCE, api_log.SOURCE, codex.SOURCE, gemini.SOURCE, qwen.SOURCE, opencode.SOURCE
)  # fmt: skip

SOURCES: dict[str, Source] = {source.kind: source for source in _REGISTERED}
"""Kind (`--source KIND=DIR`) -> source, in the order their files are listed."""

FORMATS: dict[str, Format] = {fmt.name: fmt for source in SOURCES.values() for fmt in source.formats}
"""Format name (`SourceFile.format`) -> how to read it."""

DEFAULT_KIND = "claude"
"""What a bare `--source DIR` names."""
