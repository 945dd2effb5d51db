"""Every rule's case file (`tests/rules/<RULE_ID>.toml`), run through both engines without the CMS files.

A case file holds the few reference rows the rule needs, as releases of the store's datasets (`[[release]]`:
dataset, label, start, end, row_dates, and `[release.rows]` tables of rows in the columns of the store's
table specs; columns left out are null), then `[[case]]`s: a claim in the JSON claim contract and the
findings expected of the rule (`expect`: severity, codes, lines (from 1), message_contains,
details_contains, fix_contains; each must match a finding of the rule; `count` the number of its findings,
which must be none when nothing is expected), `absent` rules that must not fire, and the claim's `verdict`. Each case is checked
by the single-claim engine and by the batch engine, which must give the same results."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hcpcs.claims.frame import chunk_of
from hcpcs.claims.objects import claim_or_error
from hcpcs.core.tables import TABLES
from hcpcs.edits import registry
from hcpcs.services import Hcpcs
from hcpcs.services.checking import StreamChecker
from hcpcs.services.outputs import claim_json
from hcpcs.sources.base import ParsedTable, SourceFile
from hcpcs.sources.bundle import ParsedRelease
from hcpcs.sources.discover import ReleasePlan
from hcpcs.store.db import Store
from hcpcs.store.loader import write_releases

HERE = Path(__file__).resolve().parent
CASE_FILES = sorted(HERE.glob("*.toml"))


def _day(value: Any) -> date | None:
    return value if isinstance(value, date) or value is None else date.fromisoformat(str(value))


def build_store(spec: dict[str, Any], folder: Path) -> Hcpcs:
    """A store holding the case file's releases."""
    store = Store(folder / "hcpcs.sqlite")
    parsed = []
    for number, release in enumerate(spec.get("release", [])):
        start, end = _day(release["start"]), _day(release.get("end"))
        plan = ReleasePlan(release["dataset"], release["label"], start, end, end, bool(release.get("row_dates")))
        plan.meta.update(release.get("meta", {}))
        tables = []
        for table, rows in release.get("rows", {}).items():
            columns = TABLES[table].column_names
            values = []
            for line, row in enumerate(rows, start=1):
                unknown = set(row) - set(columns)
                assert not unknown, f"{table} has no column(s) {unknown}"
                values.append(tuple(row.get(c, line if c == "source_line" else None) for c in columns))
            source = SourceFile.from_bytes(f"{release['label']}.{table}", json.dumps(rows).encode())
            tables.append(ParsedTable(table, columns, values, source))
        files = [{"name": t.source.name, "origin": "case file", "sha256": str(number), "bytes": 0,
                  "kind": TABLES[t.table].file_kinds[0] if TABLES[t.table].file_kinds else t.table} for t in tables]
        parsed.append(ParsedRelease(plan, tables, files=files))
    write_releases(store, parsed)
    store.close()
    return Hcpcs(folder)


def results(hc: Hcpcs, claim: dict[str, Any], engine: str) -> dict[str, Any]:
    item = claim_or_error(claim, "case", ".")
    checked = StreamChecker(hc, engine=engine).check(chunk_of([item], 0))
    return json.loads(claim_json(checked)[0])


def _matches(want: dict[str, Any], got: dict[str, Any]) -> bool:
    """Whether a finding is the expected one: the fields given are equal, the texts given are in it."""
    for key in ("rule", "severity", "codes", "lines"):
        if key in want and got[key] != want[key]:
            return False
    if "message_contains" in want and want["message_contains"] not in got["message"]:
        return False
    if "details_contains" in want and want["details_contains"] not in (got["details"] or ""):
        return False
    return "fix_contains" not in want or want["fix_contains"] in (got["fix"] or "")


def _cases() -> list[Any]:
    out = []
    for path in CASE_FILES:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
        for number, case in enumerate(spec["case"]):
            out.append(pytest.param(path, number, id=f"{path.stem}:{case.get('name', number)}"))
    return out


def test_every_rule_has_a_case_file() -> None:
    assert {p.stem for p in CASE_FILES} == set(registry.specs())


@pytest.mark.parametrize(("path", "number"), _cases())
def test_case(path: Path, number: int, tmp_path: Path) -> None:
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    rule = spec["rule"]
    assert rule == path.stem
    case = spec["case"][number]
    hc = build_store(spec, tmp_path)
    single = results(hc, case["claim"], "single")
    batch = results(hc, case["claim"], "batch")
    assert single == batch, "the two engines disagree"
    found = [f for f in single["findings"] if f["rule"] == rule]
    expected = case.get("expect", [])
    if "count" in case:
        assert len(found) == case["count"], json.dumps(single["findings"], indent=1)
    elif not expected:
        assert not found, json.dumps(found, indent=1)
    remaining = list(found)
    for want in expected:
        match = next((got for got in remaining if _matches(want, got)), None)
        assert match is not None, (want, json.dumps(found, indent=1))
        remaining.remove(match)
        assert match["source"] is None or match["source"]["dataset"]
    fired = {f["rule"] for f in single["findings"]}
    for absent in case.get("absent", []):
        assert absent not in fired, json.dumps(single["findings"], indent=1)
    if "verdict" in case:
        assert single["verdict"]["code"] == case["verdict"]
