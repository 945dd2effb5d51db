"""The HCPCS processing-notes file (proc_notes_*.txt): numbered notes referred to by the HCPCS file's
processing note field (columns 253-256). Each note starts with its 4-digit number and `--`
(`0002--THESE CODES ...`), wraps over indented lines, and carries a box margin of `*` at the right."""

from __future__ import annotations

from typing import Any

from hcpcs.core.errors import SourceFormatError
from hcpcs.core.tables import TABLES
from hcpcs.sources.base import ParsedTable, SourceFile

TABLE = "hcpcs_note"
COLUMNS = TABLES[TABLE].column_names


def _note_start(text: str) -> tuple[str, str] | None:
    """(number, first text) when a stripped line opens a note (`NNNN--text`), else None."""
    if len(text) >= 6 and text[4:6] == "--" and text[:4].isdigit():
        return text[:4], text[6:]
    return None


def _content(line: str) -> str:
    """A line without its right-hand `*` margin and surrounding blanks (tabs included)."""
    text = line.strip()
    if text.endswith("*"):
        text = text[:-1].rstrip()
    return text


def parse_proc_notes(source: SourceFile) -> ParsedTable:
    """Processing notes -> `hcpcs_note` rows (note number '0001', full text with the wrapped lines joined
    by single spaces). Title lines before the first note are skipped; a note number seen twice is an
    error."""
    origin = source.origin
    notes: list[list[Any]] = []  # [number, text parts, line]
    seen: dict[str, int] = {}
    for number, line in enumerate(source.text().splitlines(), 1):
        text = _content(line)
        if not text:
            continue
        start = _note_start(text)
        if start is not None:
            note, first = start
            if note in seen:
                raise SourceFormatError(
                    origin, f"line {number}",
                    f"processing note {note} appears twice (first at line {seen[note]})",
                )
            seen[note] = number
            notes.append([note, [first], number])
        elif notes:
            notes[-1][1].append(text)
        # text before the first note: the "PROCESSING NOTES" title and its rule
    if not notes:
        raise SourceFormatError(
            origin, None, "no processing notes found (expected lines opening with a 4-digit number and '--')"
        )
    rows = [(note, " ".join(" ".join(parts).split())) for note, parts, _ in notes]
    return ParsedTable(TABLE, COLUMNS, rows, source, {"note_count": len(rows)})
