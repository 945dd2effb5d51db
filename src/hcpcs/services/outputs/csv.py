"""One row per finding (and one `INPUT_ERROR` row per bad record); line numbers count from 1."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

NAME = "csv"
MEDIA_TYPE = "text/csv"
COLUMNS = ["claim_id", "rule", "severity", "codes", "lines", "message", "fix", "source_dataset", "source_release",
           "source_row"]


def write(results: Iterable[dict[str, Any]], stream: TextIO) -> None:
    out = csv.writer(stream)
    out.writerow(COLUMNS)
    for result in results:
        if "error" in result:
            error = result["error"]
            out.writerow([result["id"] or "", "INPUT_ERROR", "error", "", "", error["message"], "", "", "",
                          error["location"]])
            continue
        for finding in result["findings"]:
            source = finding.get("source") or {}
            out.writerow([result["id"], finding["rule"], finding["severity"], " ".join(finding["codes"]),
                          " ".join(str(i + 1) for i in finding["lines"]), finding["message"], finding["fix"] or "",
                          source.get("dataset", ""), source.get("release", ""), source.get("row", "")])
