"""The claim workload of the end-to-end benchmarks: claims as a payer's nightly file would hold them, written
as JSON Lines (and Parquet), generated from a seed so that every run checks the same claims.

    python benchmarks/workload.py OUT.jsonl [--claims 500000] [--seed 2024] [--parquet OUT.parquet]

Claims: 1 to 8 lines each (as many of each size), professional, date of service 2024-08-12. About 30 % of
the claims hold one code pair with a practitioner NCCI PTP edit in force in July 2024 (read from the edit
table CSV of `../shared/data/cms`); the other lines bill codes a physician's claim mostly carries: codes of
that PTP table that are payable on the fee schedule of the date (status A in the RVU file), not add-on codes,
with an MUE of at least 4 units, drawn so as not to form another PTP pair. 10 % of lines carry a modifier (a PTP-associated one or another), 8 % two
to four units. A nightly file like this is mostly clean: the findings are mostly the PTP pairs."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cms"
DEFAULT_PTP = DATA / "ncci" / "derived_2024q3" / "ptp_practitioner_2024q3.csv.gz"
RVU_FILE = DATA / "mpfs_rvu" / "2024_rvu24b_apr" / "PPRRVU24_APR.csv.gz"
MUE_FILE = DATA / "ncci" / "derived_2024q3" / "mue_practitioner_2024q3.csv"
AOC_FILE = DATA / "ncci" / "derived_2024q3" / "aoc_2024q2.csv"
DATE_OF_SERVICE = date(2024, 8, 12)
MODIFIERS = ["26", "TC", "59", "XS", "XU", "LT", "RT", "25", "76", "GA"]
PAIR_SHARE = 0.30


def active_pairs(ptp_csv: Path, day: date = DATE_OF_SERVICE) -> dict[tuple[str, str], str]:
    """(column 1, column 2) -> modifier indicator of the edits in force on `day` (indicator 9 left out)."""
    iso = day.isoformat()
    pairs: dict[tuple[str, str], str] = {}
    with gzip.open(ptp_csv, "rt", newline="") if ptp_csv.suffix == ".gz" else ptp_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            deleted = (row.get("deletion_date") or "").strip()
            effective = (row.get("effective_date") or "").strip()
            if row["modifier_indicator"] == "9" or (deleted and deleted < iso) or (effective and effective > iso):
                continue
            pairs[(row["column1"], row["column2"])] = row["modifier_indicator"]
    return pairs


def _csv_rows(path: Path, skip: int = 0) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="latin-1") as handle:
        rows = list(csv.reader(handle))
    return rows[skip:]


def clean_codes(pairs: dict[tuple[str, str], str]) -> list[str]:
    """Codes of the PTP table with fee-schedule status A on the global row, not add-on codes, MUE >= 4."""
    payable = {row[0] for row in _csv_rows(RVU_FILE) if len(row) > 3 and row[1] == "" and row[3] == "A"}
    addons = {row[1] for row in _csv_rows(AOC_FILE, 1)}
    roomy = {row[0] for row in _csv_rows(MUE_FILE, 1) if row[1].isdigit() and int(row[1]) >= 4}
    codes = {code for pair in pairs for code in pair}
    return sorted(codes & payable & roomy - addons)


def claims(count: int, seed: int, pairs: dict[tuple[str, str], str]) -> list[dict]:
    rng = random.Random(seed)
    pair_list = sorted(pairs)
    codes = clean_codes(pairs)
    out = []
    for number in range(count):
        size = rng.randint(1, 8)
        drawn: list[str] = []
        if size >= 2 and rng.random() < PAIR_SHARE / 0.875:  # 7 claims in 8 have two lines or more
            drawn.extend(rng.choice(pair_list))
        while len(drawn) < size:
            # A code that forms no other PTP pair with the codes drawn so far (a few tries, then any).
            for _ in range(20):
                code = rng.choice(codes)
                if not any((code, other) in pairs or (other, code) in pairs for other in drawn):
                    break
            drawn.append(code)
        rng.shuffle(drawn)
        lines = []
        for code in drawn:
            line: dict = {"code": code}
            if rng.random() < 0.10:
                line["modifiers"] = [rng.choice(MODIFIERS)]
            if rng.random() < 0.08:
                line["units"] = rng.randint(2, 4)
            lines.append(line)
        out.append({"id": f"C{number:07d}", "setting": "professional",
                    "date_of_service": DATE_OF_SERVICE.isoformat(), "lines": lines})
    return out


def write_jsonl(items: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        buffer = io.StringIO()
        for number, item in enumerate(items, 1):
            buffer.write(json.dumps(item, separators=(",", ":")))
            buffer.write("\n")
            if number % 50_000 == 0:
                out.write(buffer.getvalue())
                buffer = io.StringIO()
        out.write(buffer.getvalue())


def write_parquet(items: list[dict], path: Path) -> None:
    """The same claims as a Parquet table of claim lines (one row per line), as a data lake keeps them."""
    import polars as pl

    rows = {"claim_id": [], "setting": [], "date_of_service": [], "line": [], "code": [], "modifiers": [],
            "units": []}
    for item in items:
        for index, line in enumerate(item["lines"]):
            rows["claim_id"].append(item["id"])
            rows["setting"].append(item["setting"])
            rows["date_of_service"].append(DATE_OF_SERVICE)
            rows["line"].append(index)
            rows["code"].append(line["code"])
            rows["modifiers"].append(line.get("modifiers", []))
            rows["units"].append(line.get("units", 1))
    pl.DataFrame(rows).write_parquet(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the JSON Lines file to write")
    parser.add_argument("--claims", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--ptp", type=Path, default=DEFAULT_PTP, help="the practitioner PTP edit table CSV")
    parser.add_argument("--parquet", type=Path, help="also write the claim lines as Parquet here")
    args = parser.parse_args()
    items = claims(args.claims, args.seed, active_pairs(args.ptp))
    write_jsonl(items, args.out)
    if args.parquet:
        write_parquet(items, args.parquet)
    lines = sum(len(item["lines"]) for item in items)
    print(f"{len(items):,} claims, {lines:,} lines -> {args.out}")


if __name__ == "__main__":
    main()
