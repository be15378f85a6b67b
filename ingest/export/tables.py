"""The table writers: one Arrow table as JSONL, CSV or Parquet bytes into an open file.

Each returns a `Writer` so `OutputDir` can stage, hash and place the file
without knowing its format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from tiermon.ingest.export.output_dir import Writer
from tiermon.ingest.sanitize import json_safe


def _bytes_writer(data: bytes) -> Writer:
    return lambda fh: fh.write(data)


def _writer(fmt: str, table: pa.Table, csv_cell: Callable[[Any], Any]) -> Writer:
    if fmt == "parquet":
        return lambda fh: pq.write_table(table, fh, compression="zstd")
    if fmt == "jsonl":
        return lambda fh: _write_jsonl(table, fh)
    return lambda fh: _write_csv(table, fh, csv_cell)


def _write_jsonl(table: pa.Table, fh: BinaryIO) -> None:
    fh.writelines((json_safe(json.dumps(row, default=_json_default, ensure_ascii=False)) + "\n").encode("utf-8")
                  for row in _rows(table))  # fmt: skip


def _write_csv(table: pa.Table, fh: BinaryIO, csv_cell: Callable[[Any], Any]) -> None:
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(table.column_names)
    for row in _rows(table):
        writer.writerow([csv_cell(_csv_value(v)) for v in row.values()])
    text.flush()
    text.detach()


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=10_000):
        yield from batch.to_pylist()


def _csv_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return _json_default(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
