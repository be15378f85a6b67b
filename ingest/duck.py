"""DuckDB's engine, with its Python relation layer loaded only where a relation is used.

Why: `import duckdb` (2.x) costs ~150 ms on top of the engine — the relation
and expression builders (~6,700 lines of Python) and importlib.metadata for the
version string — and every `tiermon report` paid it before answering. Connect,
execute, fetch and every exception class live in the compiled `_duckdb` module,
which the wheel ships as a typed top-level module. Frames (`.sql().pl()`),
Arrow reads and Arrow registration need the relation layer, which installs its
methods onto the same connection class when `duckdb` is imported: callers of
those run `relations()` first.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from duckdb import CatalogException, ConnectionException, DuckDBPyConnection, Error, IOException, connect
else:
    try:
        from _duckdb import CatalogException, ConnectionException, DuckDBPyConnection, Error, IOException, connect
    except ImportError:  # a DuckDB that keeps its engine inside the package
        from duckdb import CatalogException, ConnectionException, DuckDBPyConnection, Error, IOException, connect

__all__ = [
    "CatalogException", "ConnectionException", "DuckDBPyConnection", "Error", "IOException", "connect", "relations"
]


def relations() -> None:
    """Load DuckDB's relation layer (`.sql`, `.pl()`, Arrow scans) onto every connection; cheap once loaded."""
    import duckdb  # noqa: F401 -- importing it installs the methods on DuckDBPyConnection
