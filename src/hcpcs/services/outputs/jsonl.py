"""One JSON object per claim (or bad record) per line, in input order."""

from __future__ import annotations

from typing import BinaryIO

from hcpcs.services.checking import CheckedChunk
from hcpcs.services.outputs import claim_json, write_lines

NAME = "jsonl"
MEDIA_TYPE = "application/x-ndjson"
BINARY = True


class Writer:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def write(self, chunk: CheckedChunk) -> None:
        write_lines(claim_json(chunk), self.out)

    def close(self) -> None:
        self.out.flush()
