"""One row per finding, and one `INPUT_ERROR` row per bad record, in input order; line numbers count from 1
(as on the claim form). Cells a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a
carriage return) are written with a leading apostrophe, which spreadsheets show as text (OWASP's advice
against CSV injection)."""

from __future__ import annotations

from typing import BinaryIO

import polars as pl

from hcpcs.services.checking import CheckedChunk
from hcpcs.services.outputs import numbered_lines

NAME = "csv"
MEDIA_TYPE = "text/csv"
BINARY = True
COLUMNS = ["claim_id", "rule", "severity", "codes", "lines", "message", "details", "fix", "source_dataset",
           "source_release", "source_row"]
_FORMULA = r"^[=+\-@\t\r]"


def safe(column: str) -> pl.Expr:
    """A text cell that cannot start a spreadsheet formula."""
    value = pl.col(column).cast(pl.String)
    return pl.when(value.str.contains(_FORMULA)).then(pl.lit("'") + value).otherwise(value).alias(column)


class Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.header = True

    def write(self, chunk: CheckedChunk) -> None:
        findings = chunk.findings.select(
            "claim", "claim_id", "rule", "severity", codes=pl.col("codes").list.join(" "),
            lines=numbered_lines().cast(pl.List(pl.String)).list.join(" "), message="message",
            details=pl.col("details").fill_null(""), fix=pl.col("fix").fill_null(""),
            source_dataset=pl.col("source_dataset").fill_null(""),
            source_release=pl.col("source_release").fill_null(""), source_row=pl.col("source_row").cast(pl.String))
        errors = chunk.claims.filter(pl.col("error_message").is_not_null()).select(
            "claim", claim_id=pl.col("claim_id").fill_null(""), rule=pl.lit("INPUT_ERROR"), severity=pl.lit("error"),
            codes=pl.lit(""), lines=pl.lit(""), message="error_message", details=pl.lit(""), fix=pl.lit(""), source_dataset=pl.lit(""),
            source_release=pl.lit(""), source_row="error_location")
        rows = pl.concat([findings, errors]).sort("claim", maintain_order=True).select(
            [safe(c) for c in COLUMNS])
        if rows.height or self.header:
            self.out.write(rows.write_csv(include_header=self.header).encode("utf-8"))
            self.header = False

    def close(self) -> None:
        self.out.flush()
