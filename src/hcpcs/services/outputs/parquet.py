"""Parquet, for data lakes: `OUTPUT` is a folder that receives `findings.parquet` (one row per finding: the
claim's id and position in the input, then the fields of the finding (`lines` counted from 1) with its source as columns:
`source_dataset`, `source_release`, `source_row`, `source_files`, `source_extra` (the rule's own source
fields as JSON) and `citation`), `notices.parquet` (claim, claim_id, notices) and `errors.parquet` (claim,
claim_id, location, message of each record that could not be read). The same layout as the Spark engine
writes. Written a row group per chunk, so memory stays bounded."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from hcpcs.services.checking import CheckedChunk
from hcpcs.services.outputs import numbered_lines

NAME = "parquet"
MEDIA_TYPE = "application/vnd.apache.parquet"
BINARY = True
NEEDS_FOLDER = True


class Writer:
    def __init__(self, out: Path) -> None:
        self.folder = Path(out)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pq.ParquetWriter] = {}

    def _append(self, name: str, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(self.folder / f"{name}.parquet", table.schema, compression="zstd")
        if table.num_rows:
            self._writers[name].write_table(table)

    def write(self, chunk: CheckedChunk) -> None:
        self._append("findings", chunk.findings.with_columns(lines=numbered_lines()))
        self._append("notices", chunk.notices.select("claim", "claim_id", "notices"))
        self._append("errors", chunk.claims.filter(pl.col("error_message").is_not_null()).select(
            "claim", "claim_id", location="error_location", message="error_message"))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
