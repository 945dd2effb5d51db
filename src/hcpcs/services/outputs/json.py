"""All results as one JSON array, a claim (or bad record) per line (the README's `hcpcs check --format json`
contract), written as the chunks come."""

from __future__ import annotations

from typing import BinaryIO

from hcpcs.services.checking import CheckedChunk
from hcpcs.services.outputs import claim_json, write_lines

NAME = "json"
MEDIA_TYPE = "application/json"
BINARY = True


class Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.started = False

    def write(self, chunk: CheckedChunk) -> None:
        lines = claim_json(chunk)
        if not lines.len():
            return
        # Each claim on a line of its own, a comma before all but the first.
        self.out.write(b",\n" if self.started else b"[\n")
        write_lines(lines.head(lines.len() - 1), self.out, ",\n")
        self.out.write(lines.tail(1).item().encode("utf-8"))
        self.started = True

    def close(self) -> None:
        self.out.write(b"\n]\n" if self.started else b"[]\n")
        self.out.flush()
