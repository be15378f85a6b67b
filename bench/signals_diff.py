"""Compare every signal table of two stores row for row: a change to the engine must not change its output.

    python bench/signals_diff.py BEFORE.duckdb AFTER.duckdb

Rows are compared as multisets (`EXCEPT ALL` both ways) over the columns both
tables have; doubles are rounded to 9 digits, below what the engine stores.
Exit status 1 when any table differs, with a few differing rows of each.
"""

from __future__ import annotations

import sys

import duckdb

from tiermon.ingest.signals.writes import OWNED_TABLES


def columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND table_name = ?", [db, table]
    ).fetchall()
    return dict(rows)


def main(argv: list[str]) -> int:
    before, after = argv[1], argv[2]
    con = duckdb.connect()
    con.execute(f"ATTACH '{before}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{after}' AS b (READ_ONLY)")
    failed = False
    for table in OWNED_TABLES:
        shared = {c: t for c, t in columns(con, "a", table).items() if c in columns(con, "b", table)}
        cols = ", ".join(f'round("{c}", 9) AS "{c}"' if t == "DOUBLE" else f'"{c}"' for c, t in shared.items())
        only_a = con.execute(f"SELECT {cols} FROM a.{table} EXCEPT ALL SELECT {cols} FROM b.{table}").fetchall()
        only_b = con.execute(f"SELECT {cols} FROM b.{table} EXCEPT ALL SELECT {cols} FROM a.{table}").fetchall()
        n = con.execute(f"SELECT count(*) FROM a.{table}").fetchone()
        status = "same" if not (only_a or only_b) else f"DIFFERS: {len(only_a)} only before, {len(only_b)} after"
        print(f"{table:16s} {n[0] if n else 0:>10,} rows  {status}")
        for row in (only_a[:2] + only_b[:2]) if (only_a or only_b) else []:
            print("   ", row)
        failed |= bool(only_a or only_b)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
