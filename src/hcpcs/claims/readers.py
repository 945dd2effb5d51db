"""Claim readers: JSON, JSON Lines, CSV and X12 837 (see :mod:`hcpcs.claims.x12`) into :class:`Claim`.

Formats
-------
**JSON claim** (one object)::

    {"id": "C1", "setting": "professional", "date_of_service": "2024-08-12",
     "place_of_service": "11", "provider": "1234567893", "diagnosis_codes": ["C3490"],
     "lines": [{"code": "77373", "modifiers": ["59"], "units": 1,
                "date_of_service": "2024-08-13", "place_of_service": "22", "charge": 1500.0,
                "diagnosis_pointers": ["1"]}]}

- ``id`` (string or number) and ``lines`` (a non-empty list) are required; each line needs ``code``.
- ``setting`` is ``"professional"`` (the default when absent or empty) or ``"facility"``
  (``"institutional"`` is accepted as another name for facility); case does not matter.
- ``date_of_service`` (``YYYY-MM-DD``, ``MM/DD/YYYY`` or ``YYYYMMDD``) is required unless every line
  has its own; when absent the claim's date is the earliest line date. A line's ``date_of_service`` overrides the claim's for that line.
- ``code``: a HCPCS Level II code (a letter and four digits) or a CPT code (five digits, or four digits
  and F, T, U or M); trimmed and upper-cased.
- ``modifiers``: a list (``["26", "59"]``) or one string (``"26,59"``, ``"26;59"`` or ``"26 59"``); each
  a two-character modifier, trimmed and upper-cased.
- ``units``: a whole number greater than 0 (default 1). ``2.0`` is read as 2; ``1.5``, 0, negatives and
  text are rejected: MUE units are whole units of service.
- ``place_of_service``: a two-digit CMS place of service code (``"11"`` or ``11``; ``"1"`` is read as
  ``"01"``). ``charge``: a number >= 0. ``diagnosis_codes``: a list or one string
  split like modifiers. ``provider``: free text (usually an NPI).
- Unknown claim fields are kept in ``Claim.extra``; unknown line fields are kept in
  ``Claim.extra["line_extra"]`` (a list with one dict per line) when any line has them.

A JSON document is one claim object, a list of claim objects, or ``{"claims": [...]}``. Locations in
errors are JSON paths with 0-based indexes: ``claims[2].lines[1].units``.

**JSON Lines**: one claim object per line (blank lines skipped). A line that is not JSON is a
:class:`ClaimError` at ``line N`` and the other lines are still read; if the first non-blank line is not
JSON the input is not JSON Lines at all and :class:`ClaimInputError` is raised.

**CSV**: a header row, then one row per claim line. Header names are case-insensitive (spaces and
hyphens count as underscores); the comma, tab or semicolon that occurs most in the header is the
delimiter. Columns (aliases in brackets):

- ``claim_id`` [``id``, ``claim``] (required), ``code`` [``hcpcs``, ``cpt``, ``procedure_code``]
  (required), ``setting``, ``date_of_service`` [``dos``], ``units``, ``line_date_of_service``
  [``line_dos``], ``place_of_service`` [``pos``], ``charge``, ``provider``, ``diagnosis_codes``
  [``diagnoses``, ``dx``], ``diagnosis_pointers``;
- modifiers: one ``modifiers`` column (``26;59``, ``26,59`` or ``26 59``) and/or ``modifier1`` ..
  ``modifier4`` [``mod1`` .. ``mod4``].

Rows with the same ``claim_id`` form one claim, in order of first appearance (``read_claims``; in
streaming mode, ``iter_claims``, a claim's rows must be consecutive). Claim-level values come from the
first row that gives them; a different non-empty ``setting`` or ``date_of_service`` on another row of
the same claim is an error (use ``line_date_of_service`` for lines on other days). Each row's
``place_of_service`` is kept on its line. Other columns go to ``Claim.extra`` (first row's values).
Locations are ``line N (column)``, N being the 1-based line of the file.

**X12 837**: 005010X222A1 (837P, professional) and 005010X223A2 (837I, facility); see
:mod:`hcpcs.claims.x12`. Locations are ``segment N (SV1)``, N counting segments from ISA = 1.

Reading
-------
``read_claims(data, format=None, *, name="<input>")`` and ``read_claims_file(path, format=None)`` return
``(claims, errors)``: a bad claim becomes a :class:`ClaimError` (claim id when known, location, message)
and the other claims are still returned; a claim with several problems gets one ClaimError, for the first
found (a claim is never returned with a bad line dropped). ``iter_claims(path_or_file, format=None)`` yields
``Claim | ClaimError`` without loading a JSON Lines, CSV or X12 file into memory (a JSON document is
read whole). ``format`` is ``"json"``, ``"jsonl"``, ``"csv"``, ``"x12"`` or None to sniff: a leading
``[`` -> json; a leading ``{`` -> jsonl when the first line is a whole JSON object and more follows,
else json; ``ISA`` -> x12; anything else -> csv. Input must be UTF-8 (a BOM is allowed). Input that
cannot be read at all (empty, binary, not UTF-8, invalid JSON as a whole, a CSV without claim_id and
code columns, an X12 file without an ISA header) raises :class:`ClaimInputError`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from hcpcs.claims.csv_claims import CsvClaim, CsvHeader, csv_delimiter, read_header
from hcpcs.claims.frame import ClaimChunk
from hcpcs.claims.model import Claim, ClaimError
from hcpcs.claims.objects import ClaimOrError, claim_or_error
from hcpcs.claims.values import (
    describe_value,
)
from hcpcs.claims.x12 import iter_837
from hcpcs.core.errors import ClaimFormatError, ClaimInputError, ClaimLimitError

FORMATS = ("json", "jsonl", "csv", "x12", "parquet")
_FORMAT_NAMES = {
    "json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "jsonlines": "jsonl", "json-lines": "jsonl",
    "csv": "csv", "x12": "x12", "837": "x12", "837p": "x12", "837i": "x12", "edi": "x12", "parquet": "parquet",
}
PARQUET_MAGIC = b"PAR1"
HEAD_BYTES = 1 << 16  # how much of the input is looked at to sniff the format and check it is text



# ----------------------------------------------------------------------------------------- JSON claim

def _json_document(raw: str | bytes, name: str) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ClaimFormatError("not UTF-8 text; save it as UTF-8", location=name) from None
    except json.JSONDecodeError as exc:
        raise ClaimFormatError(
            f"not valid JSON ({exc.msg})", location=f"{name}, line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise ClaimFormatError("the JSON is nested too deeply to be a claim file", location=name) from None


def is_single_claim(document: Any) -> bool:
    """Whether a JSON document is one claim object (rather than a list or `{"claims": [...]}`)."""
    return isinstance(document, Mapping) and ("lines" in document or "claims" not in document)


def _iter_json(text: IO[str], name: str) -> Iterator[ClaimOrError]:
    yield from _json_items(_json_document(text.read(), name), name)


def _json_items(document: Any, name: str) -> Iterator[ClaimOrError]:
    if isinstance(document, Mapping) and "claims" in document and "lines" not in document:
        items = document["claims"]
        if not isinstance(items, list):
            raise ClaimInputError(f"\"claims\" must be a list of claims, not {describe_value(items)}", location=name)
    elif isinstance(document, list):
        items = document
    elif isinstance(document, Mapping):
        yield claim_or_error(document, "", "")
        return
    else:
        raise ClaimInputError(
            f"expected a claim object or a list of claims, found {describe_value(document)}", location=name
        )
    for index, item in enumerate(items):
        yield claim_or_error(item, f"claims[{index}]", ".")


def _iter_jsonl(text: IO[str], name: str) -> Iterator[ClaimOrError]:
    seen_json = False
    for number, line in enumerate(text, 1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            obj = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError) as exc:
            detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            if not seen_json:
                raise ClaimFormatError(
                    f"not JSON Lines: line {number} is not a JSON value ({detail}); a JSON document "
                    "spread over several lines is read with format \"json\"",
                    location=name,
                ) from None
            yield ClaimError(None, f"line {number}", f"not valid JSON ({detail})")
            continue
        seen_json = True
        yield claim_or_error(obj, f"line {number}", ", ")


# ------------------------------------------------------------------------------------------------ CSV

def _iter_csv(text: IO[str], name: str, *, group: bool) -> Iterator[ClaimOrError]:
    """CSV rows to claims. group=True: rows of a claim anywhere in the file (held until the end);
    group=False (streaming): a claim ends when the claim_id changes."""
    first = ""
    skipped = 0
    while True:  # skip leading blank lines, keep the first for the delimiter
        first = text.readline()
        if not first or first.strip():
            break
        skipped += 1
    if not first:
        raise ClaimFormatError("the CSV has no header row", location=name)
    delimiter = csv_delimiter(first)

    def rows() -> Iterator[str]:
        yield first
        yield from text

    reader = csv.reader(rows(), delimiter=delimiter)
    header: CsvHeader | None = None
    grouped: dict[str, CsvClaim] = {}
    current: CsvClaim | None = None
    closed: set[str] = set()
    previous_end = skipped
    try:
        for cells in reader:
            line = previous_end + 1
            previous_end = reader.line_num + skipped
            if not cells or not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = read_header(cells, line, name)
                continue
            if len(cells) < header.width:
                cells = cells + [""] * (header.width - len(cells))
            claim_id = cells[header.columns["claim_id"]].strip()
            if not claim_id:
                yield ClaimError(
                    None, f"line {line} ({header.labels['claim_id']})",
                    "claim_id is empty: every row needs the id of the claim it belongs to",
                )
                continue
            if group:
                claim = grouped.get(claim_id)
                if claim is None:
                    claim = grouped[claim_id] = CsvClaim(claim_id, header)
            else:
                if current is None or current.id != claim_id:
                    if current is not None:
                        closed.add(current.id)
                        yield current.finish()
                    current = CsvClaim(claim_id, header)
                    if claim_id in closed:
                        current.fail(
                            line, "claim_id",
                            f"the rows of claim {claim_id} are not together: this row comes after rows of "
                            "another claim, and the earlier rows were already read as a claim; when "
                            "streaming, sort the file by claim_id",
                        )
                claim = current
            claim.add(cells, line)
    except csv.Error as exc:
        raise ClaimFormatError(f"not readable CSV ({exc})", location=f"{name}, line {previous_end + 1}") from None
    if header is None:
        raise ClaimFormatError("the CSV has no header row", location=name)
    if group:
        for claim in grouped.values():
            yield claim.finish()
    elif current is not None:
        yield current.finish()


# ------------------------------------------------------------------------------------ input and sniff


_X12_WITHOUT_ISA = re.compile(r"(?:GS|ST)[*|^!](?:HC|837)\b")


def sniff_format(head: str) -> str:
    """The format of text that starts with `head`: json, jsonl, x12 or csv (see the module docstring)."""
    text = head.lstrip("\ufeff \t\r\n")
    # An interchange, or the inside of one whose ISA is missing (the X12 reader then says so).
    if text.startswith("ISA") or _X12_WITHOUT_ISA.match(text):
        return "x12"
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        # JSON Lines: (nearly) every line is an object of its own; a JSON document spread over lines is not.
        lines = [line.strip() for line in text.splitlines()[:50] if line.strip()]
        if len(lines) < 2:
            return "json"
        def whole(line: str) -> bool:
            return line.startswith("{") and line.rstrip(",").endswith("}")

        objects = sum(1 for line in lines if whole(line))
        # The first line a whole object (even a bad one), and most lines (the last may be cut by the head).
        if whole(lines[0]) and objects >= 2 and objects >= 0.8 * (len(lines) - 1):
            return "jsonl"
        try:
            first = json.loads(lines[0])
        except (json.JSONDecodeError, RecursionError, ValueError):
            return "json"
        return "jsonl" if isinstance(first, dict) else "json"
    return "csv"


def _format_name(format: str | None) -> str | None:
    if format is None:
        return None
    resolved = _FORMAT_NAMES.get(format.strip().lower())
    if resolved is None:
        raise ClaimFormatError(f"unknown claim format {format!r}: use one of {', '.join(FORMATS)}")
    return resolved


class _RawFrom(io.RawIOBase):
    """A raw byte stream: `head` (already read), then what `read` returns."""

    def __init__(self, head: bytes, read: Callable[[int], bytes]) -> None:
        self._pending = head
        self._read = read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = self._read(len(buffer))
            if not self._pending:
                return 0
        chunk = self._pending[: len(buffer)]
        self._pending = self._pending[len(chunk):]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _byte_reader(source: Any) -> Callable[[int], bytes]:
    probe = source.read(0)
    if isinstance(probe, str):
        return lambda size: source.read(size).encode("utf-8")
    return source.read


def _check_head(head: bytes, complete: bool, name: str) -> str:
    """The head of the input decoded, or ClaimInputError when it is empty, binary or not UTF-8."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ClaimFormatError("the file is UTF-16 text; save it as UTF-8", location=name)
    if b"\x00" in head:
        raise ClaimFormatError(
            "this is a binary file (it contains NUL bytes), not JSON, JSON Lines, CSV or X12 text",
            location=name,
        )
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise ClaimFormatError(
            f"not UTF-8 text (byte 0x{head[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
            location=name,
        ) from None
    if not text.strip():
        raise ClaimFormatError("the input is empty", location=name)
    return text


def _read_head(read: Callable[[int], bytes]) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    while size < HEAD_BYTES:
        chunk = read(HEAD_BYTES - size)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False


def _iter_stream(read: Callable[[int], bytes], format: str | None, name: str, *, group: bool) -> Iterator[ClaimOrError]:
    fmt = _format_name(format)
    try:
        head, complete = _read_head(read)
        head_text = _check_head(head, complete, name)
    except UnicodeError as exc:  # a text source that cannot be encoded
        raise ClaimFormatError(f"the text cannot be encoded as UTF-8 ({exc.reason})", location=name) from None
    fmt = fmt or sniff_format(head_text)
    text = io.TextIOWrapper(io.BufferedReader(_RawFrom(head, read)), encoding="utf-8-sig", newline="")
    try:
        if fmt == "json":
            yield from _iter_json(text, name)
        elif fmt == "jsonl":
            yield from _iter_jsonl(text, name)
        elif fmt == "csv":
            yield from _iter_csv(text, name, group=group)
        else:
            yield from iter_837(text, name=name)
    except UnicodeError as exc:
        raise ClaimFormatError(
            f"not UTF-8 text after the first {len(head)} bytes ({exc.reason}); save it as UTF-8", location=name
        ) from None


def _split(items: Iterable[ClaimOrError]) -> tuple[list[Claim], list[ClaimError]]:
    claims: list[Claim] = []
    errors: list[ClaimError] = []
    for item in items:
        (claims if isinstance(item, Claim) else errors).append(item)
    return claims, errors


def read_claims(
    data: bytes | str, format: str | None = None, *, name: str = "<input>"
) -> tuple[list[Claim], list[ClaimError]]:
    """Every claim in `data` (format sniffed when None) and a ClaimError for each claim that is bad."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeError as exc:
            raise ClaimFormatError(f"the text cannot be encoded as UTF-8 ({exc.reason})", location=name) from None
    return _split(_iter_stream(io.BytesIO(data).read, format, name, group=True))


def read_claims_file(
    path: str | os.PathLike[str], format: str | None = None
) -> tuple[list[Claim], list[ClaimError]]:
    """read_claims on a file; the file's path names it in errors."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            return _split(_iter_stream(handle.read, format, name, group=True))
    except OSError as exc:
        raise ClaimFormatError(f"cannot read the file ({exc.strerror or exc})", location=name) from None


def iter_claims(
    source: str | os.PathLike[str] | IO[bytes] | IO[str], format: str | None = None, *, name: str | None = None
) -> Iterator[ClaimOrError]:
    """Claims and ClaimErrors one at a time from a path or an open (binary or text) file, without reading
    a JSON Lines, CSV or X12 file whole. CSV rows of one claim must be consecutive here."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        try:
            with open(path, "rb") as handle:
                yield from _iter_stream(handle.read, format, label, group=False)
        except OSError as exc:
            raise ClaimFormatError(f"cannot read the file ({exc.strerror or exc})", location=label) from None
        return
    if not hasattr(source, "read"):
        raise ClaimFormatError(f"iter_claims needs a path or an open file, not {type(source).__name__}")
    label = name or str(getattr(source, "name", "") or "<input>")
    yield from _iter_stream(_byte_reader(source), format, label, group=False)


def read_claim_items(data: bytes | str, format: str | None = None, *, name: str = "<input>",
                     max_claims: int | None = None) -> tuple[list[ClaimOrError], bool]:
    """Every claim of an input and a ClaimError for each bad one, in input order, and whether the input was
    one JSON claim object (its answer is then one result rather than a list). The one reading of claim input
    that the command line and the web app share. ClaimFormatError when the input cannot be read at all,
    ClaimLimitError past `max_claims`, ClaimInputError when a JSON document holds no claim or list of claims."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not data.strip():
        raise ClaimFormatError("the input is empty: send a claim object, a list of claims, or a claims file (CSV, "
                               "JSON Lines, X12 837)", location=name)
    fmt = _format_name(format) or sniff_format(data[:HEAD_BYTES].decode("utf-8", "replace"))
    single = False
    if fmt == "json":
        document = _json_document(data, name)
        single = is_single_claim(document)
        items = list(_json_items(document, name))
    else:
        items = list(_iter_stream(io.BytesIO(data).read, fmt, name, group=True))
    if max_claims is not None and len(items) > max_claims:
        raise ClaimLimitError(f"the input holds {len(items):,} claims; at most {max_claims:,} are checked at once",
                              location=name)
    if not items:
        raise ClaimInputError("the list of claims is empty", location=name)
    return items, single


# ------------------------------------------------------------------------------------ columns, in chunks

X12_CHUNK_CLAIMS = 20_000


def iter_chunks(source: str | os.PathLike[str] | IO[bytes], format: str | None = None, *,
                name: str | None = None) -> Iterator[ClaimChunk]:
    """The claims of a file or binary stream as `ClaimChunk`s (claim and line frames), chunk after chunk,
    with memory bounded by the chunk whatever the input's size: JSON Lines, JSON lists, CSV and Parquet are
    read by columnar readers, X12 837 segment by segment. ClaimFormatError when the input cannot be read at
    all; a bad record becomes an error row of its chunk and the others are still read."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or str(path)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is done with it
        except OSError as exc:
            raise ClaimFormatError(f"cannot read the file ({exc.strerror or exc})", location=label) from None
        with handle:
            yield from _chunks_of(handle, format, label)
        return
    yield from _chunks_of(source, format, name or str(getattr(source, "name", "") or "<input>"))


def _chunks_of(handle: IO[bytes], format: str | None, name: str) -> Iterator[ClaimChunk]:
    from hcpcs.claims import csv_reader, json_reader, jsonl_reader, parquet_reader
    from hcpcs.claims.frame import chunk_of

    fmt = _format_name(format)
    read = _byte_reader(handle)
    head, complete = _read_head(read)
    if fmt == "parquet" or (fmt is None and head.startswith(PARQUET_MAGIC)):
        if handle.seekable():
            handle.seek(0)
            yield from parquet_reader.chunks(handle, name)  # type: ignore[arg-type]
        else:
            yield from parquet_reader.chunks(io.BytesIO(head + handle.read()), name)  # type: ignore[arg-type]
        return
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ClaimFormatError("the file is UTF-16 text; save it as UTF-8", location=name)
    if b"\x00" in head:
        raise ClaimFormatError("this is a binary file (it contains NUL bytes), not JSON, JSON Lines, CSV, X12 or "
                               "Parquet", location=name)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    text = head.decode("utf-8", "replace")
    if not text.strip():
        raise ClaimFormatError("the input is empty", location=name)
    fmt = fmt or sniff_format(text)
    if fmt == "jsonl":
        yield from jsonl_reader.chunks(read, name, head=head)
    elif fmt == "csv":
        yield from csv_reader.chunks(read, name, head=head)
    elif fmt == "json" and json_reader.is_list(head):
        yield from json_reader.chunks(read, name, head=head)
    elif fmt == "json":  # one claim object, or {"claims": [...]}: read whole
        items = list(_json_items(_json_document(head + handle.read(), name), name))
        yield chunk_of(items, 0, [getattr(item, "location", None) for item in items])
    else:
        stream = io.TextIOWrapper(io.BufferedReader(_RawFrom(head, read)), encoding="utf-8", errors="replace",
                                  newline="")
        position = 0
        batch: list[ClaimOrError] = []
        for item in iter_837(stream, name=name):
            batch.append(item)
            if len(batch) >= X12_CHUNK_CLAIMS:
                yield chunk_of(batch, position)
                position += len(batch)
                batch = []
        if batch or not position:
            yield chunk_of(batch, position)
    del complete
