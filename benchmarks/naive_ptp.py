"""The baseline of `bench_pipeline.py`: the script a billing engineer might write in an afternoon to check one
rule, NCCI PTP pairs, on a JSON Lines claim file: a dict of the active practitioner PTP pairs read from the
edit table CSV, `json.loads` per claim, a double loop over its lines, one JSON line out per claim.

    python benchmarks/naive_ptp.py CLAIMS.jsonl PTP.csv[.gz] > findings.jsonl
"""

from __future__ import annotations

import csv
import gzip
import json
import sys

BYPASS = {"59", "XE", "XS", "XP", "XU", "LT", "RT", "25", "91"}


def main() -> None:
    claims_path, ptp_path = sys.argv[1], sys.argv[2]
    pairs: dict[tuple[str, str], str] = {}
    opener = gzip.open if ptp_path.endswith(".gz") else open
    with opener(ptp_path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            deleted = row.get("deletion_date") or ""
            if row["modifier_indicator"] != "9" and (not deleted or deleted >= "2024-08-12"):
                pairs[(row["column1"], row["column2"])] = row["modifier_indicator"]
    out = sys.stdout
    with open(claims_path, encoding="utf-8") as lines:
        for text in lines:
            claim = json.loads(text)
            findings = []
            items = claim["lines"]
            for i, first in enumerate(items):
                for j, second in enumerate(items):
                    if i == j:
                        continue
                    indicator = pairs.get((first["code"], second["code"]))
                    if indicator is None:
                        continue
                    modifiers = set(first.get("modifiers", [])) | set(second.get("modifiers", []))
                    if indicator == "1" and modifiers & BYPASS:
                        continue
                    findings.append({"rule": "PTP", "codes": [first["code"], second["code"]], "lines": [i, j]})
            out.write(json.dumps({"id": claim["id"], "findings": findings}) + "\n")


if __name__ == "__main__":
    main()
