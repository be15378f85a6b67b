"""Where a batch of computed signals lands: the owned tables, and the counts kept with them.

Separate from the engine on purpose: how rows are written does not decide what they hold, so
editing this module leaves the rules fingerprint (`staleness.rules_fingerprint`) alone and no
store recomputes its signals for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiermon.ingest.schema import (
    AGENT_COLUMNS,
    RECOUNT_TURN_KINDS_SQL,
    SIGNAL_TABLES,
    TURN_KINDS_EMPTY_SQL,
    turn_kinds_delta_sql,
)  # fmt: skip
from tiermon.ingest.signals.staleness import FINGERPRINT_KEY
from tiermon.ingest.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

OWNED_TABLES: dict[str, dict[str, str]] = {**SIGNAL_TABLES, "agents": AGENT_COLUMNS}
"""The tables a signals pass owns: a session's rows in them are replaced whole."""
MAX_VALUES_PARAMS = 4000
"""Up to this many values an INSERT binds parameters; beyond, rows go through Arrow."""
_IDS = "SELECT unnest(?::VARCHAR[])"

SignalTables = dict[str, list[dict[str, Any]]]
"""Rows per owned table, keys made unique, ready for `write`."""


def clear(store: Store) -> None:
    """Empty every owned table, before a rebuild of all sessions: dropped and created again, since
    deleting millions of rows one by one (and from their key index) took seconds."""
    store.recreate_tables(OWNED_TABLES)
    store.execute("DELETE FROM turn_kinds")  # counted again once the rebuild's last batch is written


def write(
    store: Store, session_ids: list[str], tables: SignalTables, fingerprint: str | None, *, replace: bool = True
) -> None:
    """Write the batch's rows in every owned table, replacing the sessions' old rows, in one transaction.

    `turn_kinds` moves with the turns: the old turns' counts come off and the new ones' go on; a
    rebuild (`replace` off: every table was emptied) counts them all once, with its last batch.
    """
    with store.transaction():
        if replace:
            store.execute(turn_kinds_delta_sql("-"), [session_ids])
        for name, columns in OWNED_TABLES.items():
            if replace:
                store.execute(f"DELETE FROM {name} WHERE session_id IN ({_IDS})", [session_ids])
            if tables[name]:
                _insert(store, name, columns, tables[name])
        if replace:
            store.execute(turn_kinds_delta_sql("+"), [session_ids])
            store.execute(TURN_KINDS_EMPTY_SQL)
        elif fingerprint is not None:
            for stmt in RECOUNT_TURN_KINDS_SQL:
                store.execute(stmt)
        if fingerprint is not None:
            store.set_meta(FINGERPRINT_KEY, fingerprint)


def _insert(store: Store, name: str, columns: dict[str, str], rows: list[dict[str, Any]]) -> None:
    """A few rows as one parameterised VALUES statement (cheapest for a live session), many via Arrow."""
    if len(rows) * len(columns) <= MAX_VALUES_PARAMS:
        one = "(" + ", ".join("?" * len(columns)) + ")"
        store.execute(
            f"INSERT INTO {name} VALUES " + ", ".join([one] * len(rows)),
            [row[c] for row in rows for c in columns],
        )
        return
    import pyarrow as pa  # only for many rows: a live session's few never load it

    store.insert_arrow(name, pa.Table.from_pylist(rows, schema=_schema(columns)))


_SCHEMAS: dict[int, pa.Schema] = {}


def _schema(columns: dict[str, str]) -> pa.Schema:
    import pyarrow as pa

    schema = _SCHEMAS.get(id(columns))
    if schema is None:
        arrow = {
            "VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(),
            "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(), "VARCHAR[]": pa.list_(pa.string()),
        }  # fmt: skip
        schema = _SCHEMAS[id(columns)] = pa.schema([(n, arrow[ddl.split()[0]]) for n, ddl in columns.items()])
    return schema
