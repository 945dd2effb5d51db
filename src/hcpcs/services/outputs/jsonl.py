"""One JSON object per claim (or bad record) per line, in input order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

NAME = "jsonl"
MEDIA_TYPE = "application/x-ndjson"


def write(results: Iterable[dict[str, Any]], stream: TextIO) -> None:
    for item in results:
        stream.write(json.dumps(item, default=str) + "\n")
