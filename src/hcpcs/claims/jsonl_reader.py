"""JSON Lines claims read as columns: blocks of whole lines parsed by pyarrow's JSON reader into the claim
and line frames of `hcpcs.claims.frame`, never a Python object per line, with memory bounded by the block.

A block that pyarrow cannot read in one go (a line that is not JSON, a value of another type than the
contract's, bytes that are not UTF-8) is split in halves until the parts it can read are read, and the
few lines left are read one by one by the row-wise parser (`hcpcs.claims.objects`), which names what is
wrong with each: one bad line costs only itself. A line ending in a comma (a JSON array cut into lines) is
read without the comma."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json

from hcpcs.claims.frame import ClaimChunk, chunk_of, normalized_lines, suspect_claims
from hcpcs.claims.model import ClaimError
from hcpcs.claims.objects import claim_or_error

BLOCK_BYTES = 16 << 20
SMALLEST_PART = 64  # lines: below this a part that pyarrow refuses is read line by line

_LINE = pa.struct([("code", pa.string()), ("modifiers", pa.list_(pa.string())), ("units", pa.float64()),
                   ("date_of_service", pa.string()), ("place_of_service", pa.string())])
SCHEMA = pa.schema([("id", pa.string()), ("setting", pa.string()), ("date_of_service", pa.string()),
                    ("place_of_service", pa.string()), ("lines", pa.list_(_LINE))])
_PARSE = pa_json.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
_MULTILINE = pa_json.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore", newlines_in_values=True)


@dataclass
class Records:
    """JSON objects in a block of bytes: where each starts and ends, and what a person calls it (`line 12`:
    `prefix` and `numbers`; `multiline`: an object may span lines, as in a JSON list)."""

    block: bytes
    starts: np.ndarray
    ends: np.ndarray
    numbers: np.ndarray
    prefix: str = "line "
    suffix: str = ""
    multiline: bool = False

    def label(self, index: int) -> str:
        return f"{self.prefix}{int(self.numbers[index])}{self.suffix}"

    def __len__(self) -> int:
        return len(self.numbers)

    def text(self, index: int) -> bytes:
        text = self.block[int(self.starts[index]):int(self.ends[index])].strip()
        return text[:-1] if text.endswith(b",") and not self.multiline else text

    def data(self, start: int, end: int) -> bytes:
        """The bytes of lines `start` to `end` (blank lines between them included: JSON readers skip them)."""
        return self.block[int(self.starts[start]):int(self.ends[end - 1])] + b"\n"

    def part(self, start: int, end: int) -> Records:
        return Records(self.block, self.starts[start:end], self.ends[start:end], self.numbers[start:end],
                       self.prefix, self.suffix, self.multiline)


def chunks(read: Callable[[int], bytes], name: str, *, head: bytes = b"", block_bytes: int = BLOCK_BYTES
           ) -> Iterator[ClaimChunk]:
    """The chunks of a JSON Lines stream (`head`: bytes already read from it)."""
    pending = head
    line_number = 1
    position = 0
    while True:
        data = read(block_bytes)
        if data:
            pending += data
            cut = pending.rfind(b"\n") + 1
            if cut == 0:
                continue  # no whole line yet
            block, pending = pending[:cut], pending[cut:]
        else:
            block, pending = pending, b""
        if block:
            lines = _split(block, line_number)
            line_number += block.count(b"\n")
            if len(lines):
                chunk = read_records(lines, position)
                position += chunk.size
                yield chunk
        if not data and not pending:
            return


def _split(block: bytes, first_number: int) -> Records:
    """The non-blank lines of a block (lines of spaces, tabs and carriage returns are skipped, as JSON Lines
    readers do)."""
    array = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(array == 10)
    if not len(ends) or ends[-1] != len(array) - 1:
        ends = np.append(ends, len(array))
    starts = np.concatenate(([0], ends[:-1] + 1))
    numbers = np.arange(first_number, first_number + len(ends))
    blank = ends == starts
    if (ends - starts == 1).any() or b"\n " in block or b"\n\t" in block:
        # Lines holding only whitespace: rare, looked at one by one.
        short = np.flatnonzero(~blank & (ends - starts <= 64))
        for index in short.tolist():
            if not block[starts[index]:ends[index]].strip():
                blank[index] = True
    keep = ~blank
    return Records(block, starts[keep], ends[keep], numbers[keep])


def read_records(lines: Records, position: int) -> ClaimChunk:
    """The chunk of the claims in `lines` (positions from `position`)."""
    chunks = []
    offset = position
    for start, end, table in _readable_parts(lines, 0, len(lines)):
        part = lines.part(start, end)
        chunks.append(_from_table(table, part, offset) if table is not None else _one_by_one(part, offset))
        offset += end - start
    if len(chunks) == 1:
        return chunks[0]
    return ClaimChunk(pl.concat([c.claims for c in chunks]), pl.concat([c.lines for c in chunks]))


def _readable_parts(lines: Records, start: int, end: int) -> list[tuple[int, int, pa.Table | None]]:
    """(start, end, table) for consecutive parts of the lines: the table pyarrow read, or None for a part to
    read line by line."""
    try:
        return [(start, end, _arrow(lines.data(start, end), end - start, lines.multiline))]
    except (pa.ArrowInvalid, UnicodeDecodeError, OverflowError):
        if end - start <= SMALLEST_PART:
            return [(start, end, None)]
        middle = (start + end) // 2
        return _readable_parts(lines, start, middle) + _readable_parts(lines, middle, end)


def _arrow(data: bytes, count: int, multiline: bool) -> pa.Table:
    table = pa_json.read_json(io.BytesIO(data), parse_options=_MULTILINE if multiline else _PARSE)
    if table.num_rows != count:  # a line holding more than one JSON value, say
        raise pa.ArrowInvalid("rows and lines differ")
    return table


def _from_table(table: pa.Table, lines: Records, position: int) -> ClaimChunk:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    count = frame.height
    claims = frame.select(
        claim=pl.int_range(position, position + count, dtype=pl.Int64), claim_id=pl.col("id"),
        setting="setting", date_of_service="date_of_service", place_of_service="place_of_service",
        lines_count=pl.col("lines").list.len())
    # Each line's position in its claim comes with the explode (cheaper than a window over the claims).
    line_rows = frame.select(claim=pl.int_range(position, position + count, dtype=pl.Int64),
                             line=pl.int_ranges(0, pl.col("lines").list.len(), dtype=pl.Int64),
                             lines="lines").explode("line", "lines")
    # A null in a claim's line list (`"lines": [null]`) is for the row-wise parser to name.
    null_lines = line_rows.filter(pl.col("lines").is_null() & pl.col("line").is_not_null())["claim"]
    line_rows = line_rows.filter(pl.col("lines").is_not_null()).unnest("lines")
    suspects = suspect_claims(claims, line_rows)
    if null_lines.len():
        suspects = pl.concat([suspects, null_lines]).unique().sort()
    if suspects.len():
        good = normalized_lines(claims.filter(~pl.col("claim").is_in(suspects.implode())),
                                line_rows.filter(~pl.col("claim").is_in(suspects.implode())))
    else:
        good = normalized_lines(claims, line_rows)
    records = pl.Series(lines.numbers, dtype=pl.Int64).cast(pl.String)
    labels = pl.lit(lines.prefix) + records + pl.lit(lines.suffix)
    claim_frame = claims.select("claim", "claim_id", record=labels, error_location=pl.lit(None, pl.String),
                                error_message=pl.lit(None, pl.String))
    if not suspects.len():
        return ClaimChunk(claim_frame, good)
    # The suspects, read row-wise: their claims (if they are good after all) or their errors.
    again = [_parse(lines.text(p - position), lines.label(p - position), lines.multiline) for p in suspects.to_list()]
    reread = chunk_of(again, 0, None)
    reread = ClaimChunk(
        reread.claims.with_columns(claim=suspects),
        reread.lines.with_columns(claim=pl.col("claim").replace_strict(list(range(len(again))), suspects.to_list())))
    claim_frame = claim_frame.join(reread.claims.select("claim", "error_location", "error_message", new_id="claim_id"),
                                   on="claim", how="left", suffix="_again").select(
        "claim", claim_id=pl.when(pl.col("claim").is_in(suspects.implode())).then("new_id").otherwise("claim_id"),
        record="record", error_location=pl.coalesce("error_location_again", "error_location"),
        error_message=pl.coalesce("error_message_again", "error_message"))
    return ClaimChunk(claim_frame, pl.concat([good, reread.lines]).sort("claim", "line"))


def _one_by_one(lines: Records, position: int) -> ClaimChunk:
    labels = [lines.label(i) for i in range(len(lines))]
    items = [_parse(lines.text(i), labels[i], lines.multiline) for i in range(len(lines))]
    return chunk_of(items, position, labels)


def _parse(text: bytes, where: str, in_list: bool) -> object:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ClaimError(None, where, f"not UTF-8 text (byte 0x{text[exc.start]:02x} at column {exc.start + 1}); "
                                       "save the file as UTF-8")
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return ClaimError(None, where, f"not valid JSON ({exc.msg} at column {exc.colno})")
    except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of thousands of digits
        detail = "nested too deeply" if isinstance(exc, RecursionError) else "a number too long to read"
        return ClaimError(None, where, f"not valid JSON ({detail})")
    return claim_or_error(obj, where, "." if in_list else ", ")
