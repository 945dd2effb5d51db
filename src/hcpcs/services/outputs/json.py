"""All results as one JSON array (the README's `hcpcs check --format json` contract)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

NAME = "json"
MEDIA_TYPE = "application/json"


def write(results: Iterable[dict[str, Any]], stream: TextIO) -> None:
    stream.write(json.dumps(list(results), indent=2, default=str) + "\n")
