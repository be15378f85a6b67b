"""Architecture rules: ingest/ stays headless, and `import tiermon` stays cheap."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return set(out.split())


def test_ingest_never_imports_textual() -> None:
    code = "\n".join([
        "import pkgutil, importlib, tiermon.ingest",
        "for m in pkgutil.walk_packages(tiermon.ingest.__path__, 'tiermon.ingest.'):",
        "    importlib.import_module(m.name)",
    ])  # fmt: skip
    loaded = _modules_after(code)
    assert not {m for m in loaded if m == "textual" or m.startswith(("textual.", "tiermon.tui"))}


def test_import_tiermon_does_not_import_the_sdk_or_textual() -> None:
    loaded = _modules_after("import tiermon")
    assert "anthropic" not in loaded and "textual" not in loaded
