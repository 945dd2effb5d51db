"""CSV claims (one row per claim line, a header naming the columns) read as columns: blocks of whole rows
parsed by pyarrow's CSV reader into the claim and line frames of `hcpcs.claims.frame`, with memory bounded by
the block. The rows of one claim are grouped by `claim_id` within a block, and a claim's rows may cross from
one block into the next (they are held back); rows of a claim that come after another claim's rows in a
later block are refused (sort the file by claim_id to read such a file as one stream).

A block pyarrow refuses (a row with too many cells, say) is split in halves until the parts it reads are
read; the rows left, and every claim whose values look wrong, are read by the row-wise `CsvClaim`, which
names the first bad cell (`line N (column)`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from hcpcs.claims.csv_claims import MODIFIER_COLUMNS, CsvClaim, CsvHeader, csv_delimiter, read_header
from hcpcs.claims.frame import ClaimChunk, chunk_of, normalized_lines, suspect_claims
from hcpcs.claims.model import ClaimError
from hcpcs.core.errors import ClaimFormatError

BLOCK_BYTES = 16 << 20
SMALLEST_PART = 64
_QUOTE, _NEWLINE = ord('"'), ord("\n")
NOT_TOGETHER = ("the rows of claim {claim_id} are not together: this row comes after rows of another claim, and "
                "the earlier rows were already read as a claim; sort the file by claim_id")


def chunks(read: Callable[[int], bytes], name: str, *, head: bytes = b"", block_bytes: int = BLOCK_BYTES
           ) -> Iterator[ClaimChunk]:
    pending = bytes(head)
    line_number = 1
    while True:  # the header: the first line that is not blank
        cut = pending.find(b"\n")
        if cut < 0:
            more = read(block_bytes)
            if not more:
                cut = len(pending)
                if not pending.strip():
                    raise ClaimFormatError("the CSV has no header row", location=name)
            pending += more
            if more:
                continue
        first, pending = pending[:cut], pending[cut + 1:]
        if first.strip():
            break
        line_number += 1
    try:
        first_text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClaimFormatError(f"the CSV header is not UTF-8 text ({exc.reason})", location=name) from None
    delimiter = csv_delimiter(first_text)
    header = read_header(next(csv.reader([first_text.rstrip("\r")], delimiter=delimiter)), line_number, name)
    reader = RowsReader(header, delimiter, name)
    line_number += 1
    held = None
    while True:
        more = read(block_bytes)
        pending += more
        cut = _last_row_end(pending) if more else len(pending)
        if cut <= 0 and more:
            continue
        block, pending = pending[:cut], pending[cut:]
        cells = reader.parse(block, line_number)
        line_number += block.count(b"\n")
        if held is not None:
            cells = pl.concat([held, cells.select(held.columns)], how="vertical_relaxed")
        chunk, held = reader.take(cells, final=not more)
        if chunk is not None and chunk.size:
            yield chunk
        if not more and not pending:
            return


def _last_row_end(data: bytes) -> int:
    """The end of the last whole row (after a newline outside quotes), 0 when there is none."""
    if b'"' not in data:
        return data.rfind(b"\n") + 1
    array = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(array == _NEWLINE)
    if not len(newlines):
        return 0
    quotes_before = np.cumsum(array == _QUOTE, dtype=np.int32)[newlines]
    even = newlines[quotes_before % 2 == 0]
    return int(even[-1]) + 1 if len(even) else 0


def _row_spans(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (start, end) of each row of a block of whole rows (newlines inside quotes belong to a row), and
    how many newlines come before each row."""
    array = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(array == _NEWLINE)
    if b'"' in block and len(newlines):
        quotes_before = np.cumsum(array == _QUOTE, dtype=np.int32)[newlines]
        ends = newlines[quotes_before % 2 == 0]
    else:
        ends = newlines
    if not len(ends) or ends[-1] != len(array) - 1:
        ends = np.append(ends, len(array))
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends, np.searchsorted(newlines, starts)


class RowsReader:
    """Rows of text cells (CSV, or Parquet and Spark rows as text) checked and turned into claim chunks, as the
    CSV reader does: shared so every tabular input is judged by the same rules."""

    def __init__(self, header: CsvHeader, delimiter: str, name: str) -> None:
        self.header = header
        self.delimiter = delimiter
        self.name = name
        self.position = 0
        self.seen = pl.Series("claim_id", [], dtype=pl.String)  # ids of the claims read from earlier blocks
        self.names = [f"c{i}" for i in range(header.width)]

    # -- parsing ---------------------------------------------------------------------------------------

    def _cells(self, block: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray) -> pl.DataFrame:
        """One row per non-blank row of the block: `row_line` (its line number), `width` (its cells) and the
        cells `c0`... (padded with empty text), read by pyarrow where it can."""
        blank = ends == starts
        keep = ~blank
        if (ends - starts == 1).any():
            for index in np.flatnonzero(~blank & (ends - starts <= 2)).tolist():
                if not block[starts[index]:ends[index]].strip():
                    keep[index] = False
        starts, ends, lines = starts[keep], ends[keep], lines[keep]
        parts = self._parts(block, starts, ends, lines, 0, len(starts))
        order = ["row_line", "width", *self.names]
        return pl.concat([p.select(order) for p in parts], how="vertical_relaxed") if parts else self._empty_cells()

    def _empty_cells(self) -> pl.DataFrame:
        return pl.DataFrame(schema={"row_line": pl.Int64, "width": pl.Int64, **{n: pl.String for n in self.names}})

    def _parts(self, block: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray, low: int,
               high: int) -> list[pl.DataFrame]:
        if low >= high:
            return []
        data = block[int(starts[low]):int(ends[high - 1])]
        try:
            table = pa_csv.read_csv(
                io.BytesIO(data), read_options=pa_csv.ReadOptions(column_names=self.names),
                parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False))
            if table.num_rows != high - low:
                raise pa.ArrowInvalid("rows and records differ")
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            return [frame.with_columns(row_line=pl.Series(lines[low:high], dtype=pl.Int64),
                                       width=pl.lit(self.header.width, pl.Int64))]
        except (pa.ArrowInvalid, UnicodeDecodeError):
            if high - low > SMALLEST_PART:
                middle = (low + high) // 2
                return (self._parts(block, starts, ends, lines, low, middle)
                        + self._parts(block, starts, ends, lines, middle, high))
        rows = []
        for index in range(low, high):
            raw = block[int(starts[index]):int(ends[index])]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                cells = ["\x00utf8", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); save "
                                     "the file as UTF-8"]
            else:
                try:
                    cells = next(csv.reader([text.rstrip("\r\n")], delimiter=self.delimiter), [])
                except csv.Error as exc:
                    cells = ["\x00csv", f"not readable CSV ({exc})"]
            width = len(cells)
            padded = (cells + [""] * self.header.width)[:self.header.width]
            rows.append([int(lines[index]), width, *padded])
        return [pl.DataFrame(rows, schema={"row_line": pl.Int64, "width": pl.Int64,
                                           **{n: pl.String for n in self.names}}, orient="row")]

    # -- one block -------------------------------------------------------------------------------------

    def parse(self, block: bytes, first_line: int) -> pl.DataFrame:
        """The rows of a block of whole rows (`row_line`, `width`, cells `c0`...) with their `claim_id`."""
        starts, ends, newlines_before = _row_spans(block)
        lines = first_line + newlines_before
        cells = self._cells(block, starts, ends, lines)
        return cells.with_columns(claim_id=pl.col(f"c{self.header.columns['claim_id']}").str.strip_chars())

    def take(self, cells: pl.DataFrame, *, final: bool) -> tuple[ClaimChunk | None, pl.DataFrame | None]:
        """The chunk of the claims of some rows and (unless `final`) the rows of the last claim, which may go
        on in the rows still to come."""
        if not cells.height:
            return None, None
        held = None
        if not final and cells["claim_id"][-1]:
            runs = cells.select(pl.col("claim_id").rle_id())["claim_id"]
            first_held = int((runs == runs[-1]).arg_true()[0])
            held = cells.slice(first_held)
            cells = cells.head(first_held)
            if not cells.height:
                return None, held
        return self._claims(cells), held

    def _claims(self, cells: pl.DataFrame) -> ClaimChunk:
        header, column = self.header, self.header.columns

        def cell(name: str) -> pl.Expr:
            return pl.col(f"c{column[name]}") if name in column else pl.lit(None, pl.String)

        # Every row is a claim's line, or a record of its own (an empty claim id, an unreadable row).
        broken = pl.col("c0").str.starts_with("\x00")
        cells = cells.with_columns(
            key=pl.when(broken | (pl.col("claim_id") == "")).then(pl.format("\x00row {}", "row_line"))
            .otherwise(pl.col("claim_id")))
        runs = cells.select(pl.col("key").rle_id())["key"]
        run_keys = cells["key"].gather(runs.unique_counts().cum_sum() - 1) if cells.height else cells["key"]
        if run_keys.is_unique().all():  # each claim's rows together: numbered by run
            cells = cells.with_columns(claim=(runs + self.position).cast(pl.Int64))
        else:
            order = cells.select("key").unique(maintain_order=True)["key"]
            cells = cells.with_columns(claim=pl.col("key").replace_strict(
                order, pl.int_range(self.position, self.position + len(order), eager=True), return_dtype=pl.Int64))
        records = cells.group_by("claim", maintain_order=True).agg(
            key=pl.col("key").first(), claim_id=pl.col("claim_id").first(), first_line=pl.col("row_line").first(),
            setting=cell("setting").filter(cell("setting").str.strip_chars() != "").first(),
            settings=cell("setting").str.strip_chars().str.to_lowercase().filter(
                cell("setting").str.strip_chars() != "").n_unique(),
            date_of_service=cell("date_of_service").filter(cell("date_of_service").str.strip_chars() != "").first(),
            dates=cell("date_of_service").str.strip_chars().filter(cell("date_of_service").str.strip_chars() != "")
            .n_unique(),
            place_of_service=cell("place_of_service").filter(cell("place_of_service").str.strip_chars() != "").first(),
            wide=(pl.col("width") > header.width).any(), lines_count=pl.len().cast(pl.Int64))
        again = pl.Series("claim", [], dtype=pl.Int64)
        errors: list[tuple[int, str | None, str, str]] = []
        special = records.filter(pl.col("key").str.starts_with("\x00"))
        for row in special.iter_rows(named=True):
            where = f"line {row['first_line']}"
            line_cells = cells.filter(pl.col("claim") == row["claim"]).row(0, named=True)
            if line_cells["c0"] and line_cells["c0"].startswith("\x00"):
                errors.append((row["claim"], None, where, line_cells[f"c{1 if header.width > 1 else 0}"] or ""))
            else:
                errors.append((row["claim"], None, f"{where} ({header.labels['claim_id']})",
                               "claim_id is empty: every row needs the id of the claim it belongs to"))
        apart = records.filter(~pl.col("key").str.starts_with("\x00") & pl.col("claim_id").is_in(self.seen.implode()))
        for row in apart.iter_rows(named=True):
            errors.append((row["claim"], row["claim_id"], f"line {row['first_line']} ({header.labels['claim_id']})",
                           NOT_TOGETHER.format(claim_id=row["claim_id"])))
        skip = pl.concat([special["claim"], apart["claim"]])
        claims = records.filter(~pl.col("claim").is_in(skip.implode()))
        split = pl.col("modifiers_text").str.replace_all(r"[,;]", " ").str.strip_chars().str.split(" ")
        lines = cells.filter(pl.col("claim").is_in(claims["claim"].implode())).select(
            "claim", line=pl.int_range(pl.len()).over("claim").cast(pl.Int64), code=cell("code"),
            modifiers_text=cell("modifiers").fill_null(""), units=cell("units"),
            date_of_service=cell("line_date_of_service"), place_of_service=cell("place_of_service"),
            extra=pl.concat_list([cell(m).fill_null("") for m in MODIFIER_COLUMNS]))
        lines = lines.with_columns(modifiers=pl.concat_list(split, "extra").list.eval(
            pl.element().filter(pl.element() != ""))).drop("modifiers_text", "extra")
        lines = lines.with_columns(units=pl.when(pl.col("units").str.strip_chars() == "").then(None).otherwise("units"))
        again = pl.concat([suspect_claims(claims, lines),
                           claims.filter((pl.col("settings") > 1) | (pl.col("dates") > 1) | pl.col("wide"))["claim"]]
                          ).unique().sort()
        good_claims = claims.filter(~pl.col("claim").is_in(again.implode()))
        good = normalized_lines(good_claims, lines.filter(pl.col("claim").is_in(good_claims["claim"].implode())))
        reread_items = []
        for position in again.to_list():
            rows = cells.filter(pl.col("claim") == position)
            claim = CsvClaim(rows["claim_id"][0], header)
            for row in rows.iter_rows(named=True):
                values = [row[n] for n in self.names]
                if row["width"] > header.width:
                    values = values + ["?"] * (row["width"] - header.width)  # too many cells: CsvClaim says so
                claim.add(values, row["row_line"])
            reread_items.append(claim.finish())
        reread = chunk_of(reread_items, 0, None)
        mapping = dict(enumerate(again.to_list()))
        reread_lines = reread.lines.with_columns(pl.col("claim").replace_strict(mapping, return_dtype=pl.Int64)) \
            if mapping else reread.lines
        bad_again = reread.claims.with_columns(pl.col("claim").replace_strict(mapping, return_dtype=pl.Int64)) \
            if mapping else reread.claims
        error_frame = pl.DataFrame(errors, schema={"claim": pl.Int64, "claim_id": pl.String, "error_location": pl.String,
                                                   "error_message": pl.String}, orient="row")
        all_errors = pl.concat([error_frame, bad_again.select("claim", "claim_id", "error_location", "error_message")])
        claim_frame = records.select("claim", "claim_id", record=pl.format("line {}", "first_line")).join(
            all_errors.select("claim", "error_location", "error_message", error_id="claim_id"), on="claim", how="left")
        claim_frame = claim_frame.select(
            "claim", claim_id=pl.when(pl.col("error_message").is_not_null()).then("error_id").otherwise("claim_id"),
            record="record", error_location="error_location", error_message="error_message")
        self.position += records.height
        self.seen = pl.concat([self.seen, claims["claim_id"]])
        return ClaimChunk(claim_frame, pl.concat([good, reread_lines]).sort("claim", "line"))


__all__ = ["ClaimError", "chunks"]
