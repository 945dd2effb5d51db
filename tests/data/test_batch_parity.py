"""The batch checker (`hcpcs.edits.batch`) against the single-claim engine on the real CMS tables: a few
hundred generated claims that make every CMS rule fire (and pass) must give identical per-claim results,
findings, sources and notices, on both engines. The claims are drawn from the loaded store itself, so
no CMS row is copied into the repository. `hc` is the session store of tests/data/conftest.py."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from hcpcs.claims.model import Claim, ClaimLine
from hcpcs.core.errors import InvalidInputError
from hcpcs.edits import batch, columnar, registry
from hcpcs.edits.engine import check_claim
from hcpcs.edits.tables import EditTables
from hcpcs.store.cache import (
    BatchTables,
    build_ptp_index,
    frame_schema,
    index_file_frame,
    read_from_cache,
    read_from_store,
    read_ptp_index,
    write_table_cache,
)
from hcpcs.store.releases import Release
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata

# Dates that exercise every release situation of the shared data: in force (2024Q3 NCCI, RVU24B), answered
# by row dates with a notice (AOC 2026Q2 for 2024), nominal end passed (RVU24B after June), nothing in
# force (OPPS after 2023, NCCI outside 2024Q2-Q3), the HCPCS file of another year, and a date before every
# HCPCS release (the 2019 file answers by its rows' dates: codes added on 2019-01-01 are not valid yet).
DATES = [date(2024, 8, 12)] * 6 + [date(2024, 7, 1), date(2024, 9, 30), date(2023, 2, 1), date(2024, 5, 15),
                                    date(2026, 2, 1), date(2019, 6, 3), date(2022, 3, 7), date(2025, 11, 3),
                                    date(2018, 6, 1)]
MODIFIERS = ["59", "XS", "XU", "LT", "RT", "26", "TC", "76", "91", "25", "GA"]


def _codes(hc: Hcpcs, sql: str, *params: Any, limit: int = 60) -> list[str]:
    return [r[0] for r in hc.store.conn.execute(f"{sql} LIMIT {limit}", params)]


def _release(hc: Hcpcs, dataset: str) -> int:
    return max((r for r in hc.releases if r.dataset == dataset), key=lambda r: r.effective_start).id


def code_pools(hc: Hcpcs) -> dict[str, Any]:
    """Codes and code pairs from the loaded tables, grouped by the rule they are meant to trigger."""
    ptp = _release(hc, "ncci_ptp_practitioner")
    hptp = _release(hc, "ncci_ptp_hospital")
    mue = _release(hc, "ncci_mue_practitioner")
    aoc = [r.id for r in hc.releases if r.dataset == "ncci_aoc"]
    rvu = next(r.id for r in hc.releases if r.label == "RVU24B")
    hcpcs26 = _release(hc, "hcpcs")
    pairs_sql = ("SELECT column1 || ' ' || column2 FROM ncci_ptp WHERE release_id = ? AND modifier_indicator = ? "
                 "AND deletion_date IS {} NULL ORDER BY (rowid * 7919) % 10007")
    return {
        "ptp0": _codes(hc, pairs_sql.format(""), ptp, "0"),
        "ptp1": _codes(hc, pairs_sql.format(""), ptp, "1"),
        "ptp9": _codes(hc, pairs_sql.format(""), ptp, "9", limit=10),
        "ptp_deleted": _codes(hc, pairs_sql.format("NOT"), ptp, "1", limit=20),
        "hptp": _codes(hc, pairs_sql.format(""), hptp, "1", limit=30),
        "mue1": _codes(hc, "SELECT code FROM ncci_mue WHERE release_id = ? AND mai = '1' AND units < 3", mue),
        "mue23": _codes(hc, "SELECT code FROM ncci_mue WHERE release_id = ? AND mai IN ('2', '3') AND units < 3 "
                            "ORDER BY (rowid * 7919) % 10007", mue),
        "addon": _codes(hc, f"SELECT DISTINCT addon_code FROM ncci_aoc WHERE release_id IN ({','.join('?' * len(aoc))})"
                            " ORDER BY (rowid * 7919) % 10007", *aoc, limit=80),
        "addon3": _codes(hc, "SELECT DISTINCT addon_code FROM ncci_aoc WHERE edit_type = '3'", limit=20),
        "aoc_pairs": _codes(hc, "SELECT addon_code || ' ' || primary_code FROM ncci_aoc WHERE primary_code != 'CCCCC' "
                                "ORDER BY (rowid * 7919) % 10007", limit=40),
        "pctc": _codes(hc, "SELECT hcpcs FROM mpfs_rvu WHERE release_id = ? AND modifier = '' AND pctc IN "
                           "('0', '2', '3', '4', '5', '7', '9') ORDER BY (rowid * 7919) % 10007", rvu),
        "split": _codes(hc, "SELECT hcpcs FROM mpfs_rvu WHERE release_id = ? AND modifier = '26'", rvu),
        "unpaid": _codes(hc, "SELECT hcpcs FROM mpfs_rvu WHERE release_id = ? AND status NOT IN ('A','R','T','C','J',"
                             "'D','F','H') ORDER BY (rowid * 7919) % 10007", rvu),
        "deleted": _codes(hc, "SELECT hcpcs FROM mpfs_rvu WHERE status = 'D' AND modifier = ''", limit=20),
        "terminated": _codes(hc, "SELECT code FROM hcpcs_code WHERE release_id = ? AND record_kind = 'procedure' "
                                 "AND termination_date < '2024-01-01'", hcpcs26),
        "new": _codes(hc, "SELECT code FROM hcpcs_code WHERE release_id = ? AND record_kind = 'procedure' "
                          "AND added_date > '2024-06-01'", hcpcs26),
        "old_only": _codes(hc, "SELECT code FROM hcpcs_code WHERE release_id = 1 AND record_kind = 'procedure' AND "
                               "code NOT IN (SELECT code FROM hcpcs_code WHERE release_id = ?)", hcpcs26, limit=20),
        "opps": _codes(hc, "SELECT hcpcs FROM opps_addendum_b WHERE status_indicator IN ('N','Q1','Q2','Q3','Q4','B',"
                           "'C','E1','E2','D','E') ORDER BY (rowid * 7919) % 10007", limit=80),
        "unknown": ["Z9999", "99999", "0000T", "A9", "M1234"],
        "common": _codes(hc, "SELECT hcpcs FROM mpfs_rvu WHERE release_id = ? AND modifier = '' AND status = 'A' "
                             "ORDER BY (rowid * 7919) % 10007", rvu, limit=120),
    }


def make_claims(hc: Hcpcs, count: int, seed: int = 20240812) -> list[Claim]:
    """Claims of 1 to 8 lines mixing codes that trigger each rule, on the dates of DATES."""
    rng = random.Random(seed)
    pools = code_pools(hc)
    single_pools = ["mue1", "mue23", "addon", "addon3", "pctc", "split", "unpaid", "deleted", "terminated", "new",
                    "old_only", "opps", "unknown", "common", "common"]
    claims = []
    for number in range(count):
        setting = "facility" if rng.random() < 0.25 else "professional"
        day = date(2023, 2, 1) if setting == "facility" and rng.random() < 0.5 else rng.choice(DATES)
        codes: list[str] = []
        for kind in rng.sample(["ptp0", "ptp1", "ptp9", "ptp_deleted", "hptp", "aoc_pairs"], rng.randint(0, 2)):
            if pools[kind]:
                codes.extend(rng.choice(pools[kind]).split())
        while len(codes) < rng.randint(1, 8):
            pool = pools["opps" if setting == "facility" and rng.random() < 0.3 else rng.choice(single_pools)]
            if pool:
                codes.append(rng.choice(pool))
        rng.shuffle(codes)
        if rng.random() < 0.1:
            codes.append(codes[0])  # a duplicate line
        lines = []
        for code in codes[:9]:
            mods = tuple(rng.sample(MODIFIERS, rng.choice([0, 0, 0, 1, 1, 2])))
            units = rng.choice([1, 1, 1, 1, 2, 3, 5])
            own_day = day if rng.random() < 0.9 else rng.choice(DATES)  # some lines on another date
            lines.append(ClaimLine(code=code, modifiers=mods, units=units,
                                   date_of_service=own_day if own_day != day else None))
        claims.append(Claim(id=f"gen-{number:04d}", setting=setting, date_of_service=day, lines=tuple(lines)))
    return claims


RADIATION_ONCOLOGY = [
    # (id, setting, date, [(code, modifiers)], expected rules)
    ("ro-ptp", "professional", "2024-08-12", [("77373", ()), ("G6002", ())], {"PTP_BUNDLED"}),
    ("ro-ptp59", "professional", "2024-08-12", [("77373", ()), ("G6002", ("59",))], {"PTP_NOT_BYPASSABLE"}),
    ("ro-m26", "professional", "2024-08-12", [("G6017", ("26",))], {"MODIFIER_26_NOT_ALLOWED"}),
    ("ro-aoc", "professional", "2024-08-12", [("77293", ())], {"ADDON_WITHOUT_PRIMARY"}),
    ("ro-dos", "professional", "2026-02-01", [("G6002", ())], {"CODE_NOT_VALID_ON_DOS"}),
    ("ro-clean", "professional", "2024-08-12", [("77301", ()), ("77293", ())], set()),
]


def radiation_claims() -> list[Claim]:
    return [Claim(id=cid, setting=setting, date_of_service=date.fromisoformat(day),
                  lines=tuple(ClaimLine(code=code, modifiers=mods) for code, mods in lines))
            for cid, setting, day, lines, _ in RADIATION_ONCOLOGY]


@pytest.fixture(scope="module")
def tables(hc: Hcpcs) -> BatchTables:
    return BatchTables(hc)


def single_results(hc: Hcpcs, claims: list[Claim]) -> list[dict[str, Any]]:
    edit_tables = EditTables(hc)
    return [check_claim(claim, hc, tables=edit_tables).to_dict() for claim in claims]


def batch_results(hc: Hcpcs, claims: list[Claim] | pl.DataFrame, tables: BatchTables) -> list[dict[str, Any]]:
    return list(batch.result_dicts(batch.check_batch_result(claims, hc, tables=tables), hc))


def assert_same(single: list[dict[str, Any]], many: list[dict[str, Any]]) -> None:
    assert [r["id"] for r in many] == [r["id"] for r in single]
    for one, other in zip(single, many, strict=True):
        assert other == one, one["id"]


def test_radiation_oncology_cases(hc: Hcpcs, tables: BatchTables) -> None:
    claims = radiation_claims()
    single = single_results(hc, claims)
    many = batch_results(hc, claims, tables)
    assert_same(single, many)
    for (cid, *_, expected), result in zip(RADIATION_ONCOLOGY, many, strict=True):
        rules = {f["rule"] for f in result["findings"]} - {"DATA_NOT_COVERED"}
        assert rules == expected, cid


def test_generated_claims_match_single_engine(hc: Hcpcs, tables: BatchTables) -> None:
    claims = make_claims(hc, 400)
    single = single_results(hc, claims)
    many = batch_results(hc, claims, tables)
    fired = {f["rule"] for r in single for f in r["findings"]}
    # Every rule fires on them (claims over the line limit have a case file of their own).
    expected = (set(registry.specs()) | {"DATA_NOT_COVERED"}) - {"CLAIM_TOO_MANY_LINES"}
    assert fired >= expected, expected - fired
    assert_same(single, many)


def test_frame_input_in_any_row_order(hc: Hcpcs, tables: BatchTables) -> None:
    claims = make_claims(hc, 150, seed=7)
    by_claims = batch.check_batch(claims, hc, tables=tables)
    assert list(by_claims.columns) == list(batch.FINDING_SCHEMA)
    expected = [f for r in single_results(hc, claims) for f in r["findings"]]
    assert by_claims.height == len(expected)
    assert by_claims["rule"].to_list() == [f["rule"] for f in expected]
    # The frame keeps 0-based line positions; the JSON contract counts lines from 1.
    assert by_claims["lines"].to_list() == [[number - 1 for number in f["lines"]] for f in expected]
    assert by_claims["message"].to_list() == [f["message"] for f in expected]
    frame = batch.claims_frame(claims)
    # Lines in reverse order (claims together, days and lines out of order), then rows shuffled (claims apart).
    for reordered in (frame.reverse(), frame.sample(fraction=1.0, shuffle=True, seed=3)):
        found = batch.check_batch(reordered, hc, tables=tables)
        order = reordered["claim_id"].unique(maintain_order=True).to_list()
        assert found["claim_id"].unique(maintain_order=True).to_list() == [
            c for c in order if c in set(by_claims["claim_id"])]
        positions = dict(zip(order, range(len(order)), strict=True))
        assert found["claim"].to_list() == [positions[c] for c in found["claim_id"].to_list()]
        for claim_id in order:  # the same findings (`claim`, the claim's position in the input, aside)
            assert found.filter(pl.col("claim_id") == claim_id).drop("claim").equals(
                by_claims.filter(pl.col("claim_id") == claim_id).drop("claim")), claim_id


def test_chunks_give_the_same_findings(hc: Hcpcs, tables: BatchTables) -> None:
    frame = batch.claims_frame(make_claims(hc, 200, seed=5))
    whole = batch.check_batch_result(frame, hc, tables=tables)
    parts = list(batch.iter_check_batch(frame, hc, tables=tables, chunk_claims=37, with_notices=True))
    assert len(parts) == 6
    # `claim` is the position in each part's own claim_ids.
    for part in parts:
        assert part.findings["claim_id"].to_list() == part.claim_ids.gather(part.findings["claim"]).to_list()
    assert pl.concat([p.findings for p in parts]).drop("claim").equals(whole.findings.drop("claim"))
    assert pl.concat([p.notices for p in parts]).drop("claim").equals(whole.notices.drop("claim"))


def test_claim_objects_stay_apart(hc: Hcpcs, tables: BatchTables) -> None:
    """Two Claim objects with the same id are two claims (77373 on one, G6002 on the other: no PTP edit
    between them), and a claim without lines is still listed, as the single engine does."""
    def claim(claim_id: str, *codes: str) -> Claim:
        return Claim(id=claim_id, setting="professional", date_of_service=date(2024, 8, 12),
                     lines=tuple(ClaimLine(code=code) for code in codes))

    claims = [claim("A", "77373"), claim("A", "G6002"), claim("B"), claim("C", "77373", "G6002")]
    many = batch_results(hc, claims, tables)
    assert_same(single_results(hc, claims), many)
    assert [[f["rule"] for f in r["findings"]] for r in many] == [[], [], [], ["PTP_BUNDLED"]]
    chunked = [r for part in batch.iter_check_batch(claims, hc, tables=tables, chunk_claims=3, with_notices=True)
               for r in batch.result_dicts(part, hc)]
    assert chunked == many


def test_as_of_date(hc: Hcpcs, tables: BatchTables) -> None:
    claims = make_claims(hc, 60, seed=11)
    edit_tables = EditTables(hc)
    single = [check_claim(c, hc, tables=edit_tables, as_of=date(2024, 8, 1)).to_dict() for c in claims]
    many = list(batch.result_dicts(batch.check_batch_result(claims, hc, tables=tables, as_of="2024-08-01"), hc))
    assert_same(single, many)


def test_bad_frames_are_refused(hc: Hcpcs, tables: BatchTables) -> None:
    frame = batch.claims_frame(radiation_claims())
    with pytest.raises(InvalidInputError, match="lacks column"):
        batch.check_batch(frame.drop("units"), hc, tables=tables)
    with pytest.raises(InvalidInputError, match="setting 'dental'"):
        batch.check_batch(frame.with_columns(setting=pl.lit("dental")), hc, tables=tables)
    with pytest.raises(InvalidInputError, match="without code"):
        batch.check_batch(frame.with_columns(code=pl.lit(None, pl.String)), hc, tables=tables)
    assert batch.check_batch(frame.head(0), hc, tables=tables).height == 0


def test_table_cache_round_trip(hc: Hcpcs, tmp_path: Path) -> None:
    release = next(r for r in hc.releases if r.dataset == "ncci_mue_practitioner")
    written = write_table_cache(hc.store, release, tmp_path)
    assert [p.name for p in written] == [f"{release.content_sha256}.ncci_mue.arrow"]
    cached = read_from_cache(written[0], release, "ncci_mue")
    assert cached is not None and cached.equals(read_from_store(hc.store.conn, release, "ncci_mue"))
    cached_tables = BatchTables(hc, cache_dir=tmp_path)
    cached_tables.frame(release.id, "ncci_mue")
    assert cached_tables.loaded_from[(release.id, "ncci_mue")] == "cache"
    written[0].write_bytes(b"not arrow")
    assert read_from_cache(written[0], release, "ncci_mue") is None
    assert BatchTables(hc, cache_dir=tmp_path).frame(release.id, "ncci_mue").equals(cached)


def test_ptp_index_round_trip(tmp_path: Path) -> None:
    """The PTP index of made-up edits: pairs keyed either way round, indicator 9 left out, cached."""
    frame = pl.DataFrame({
        "column1": ["Z0001", "Z0001", "Z0002", "Z0003", "Z0001"],
        "column2": ["Z0002", "Z0003", "Z0001", "Z0001", "Z0002"],
        "effective_date": [None] * 5, "deletion_date": [None, None, None, None, date(2020, 1, 1)],
        "modifier_indicator": ["0", "9", "1", "1", "1"], "rationale": ["R"] * 5, "source_line": [2, 3, 4, 5, 6],
    }, schema=frame_schema("ncci_ptp"))
    index = build_ptp_index(frame)
    assert index.codes.to_list() == ["Z0001", "Z0002", "Z0003"]
    assert index.edits.height == 4
    assert index.pairs["count"].to_list() == [3, 1]  # Z0001/Z0002 (three rows), Z0001/Z0003
    pairs = pl.DataFrame({"a": [0, 0, 1], "b": [1, 2, 2]})
    assert pairs.select(index.has_pair(pl.col("a"), pl.col("b")))[:, 0].to_list() == [True, True, False]
    release = Release(1, "ncci_ptp_practitioner", "PTP test", date(2024, 7, 1), date(2024, 9, 30), False, [],
                      "f" * 64, {"ncci_ptp": 5}, {}, "")
    edits_path = tmp_path / f"{'f' * 64}.ncci_ptp_index.arrow"
    index_file_frame(index).write_ipc(edits_path)
    (tmp_path / f"{'f' * 64}.ncci_ptp_codes.arrow").write_bytes(b"")
    assert read_ptp_index(tmp_path, release) is None  # a broken codes file
    index.codes.to_frame("code").write_ipc(tmp_path / f"{'f' * 64}.ncci_ptp_codes.arrow")
    cached = read_ptp_index(tmp_path, release)
    assert cached is not None and cached.edits.equals(index.edits) and cached.pairs.equals(index.pairs)


@pytest.mark.parametrize("packed", [True, False])
def test_claim_days_made_contiguous(packed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of a claim whose days or lines are out of order are moved (whole claim, sorted by day and
    line) after the rows already in order; both ways of telling them apart agree."""
    if not packed:
        monkeypatch.setattr(columnar, "_PACKED_LIMIT", 0)
    def order(cps: list[int], dks: list[int], lines: list[int]) -> list[int]:
        frame = pl.DataFrame({"claim": cps, "day_key": dks, "line": lines, "input_row": list(range(len(cps)))})
        frame = frame.with_columns(claim_day=pl.col("claim") * 1000 + pl.col("day_key") // 2)
        ordered = columnar._in_claim_day_order(frame)
        assert columnar._in_claim_day_order(ordered)["input_row"].to_list() == ordered["input_row"].to_list()  # stable
        return ordered["input_row"].to_list()

    # claims 0 and 2 in order stay; claim 1 (its later day first) moves to the end, days sorted.
    assert order([0, 0, 1, 1, 2, 2], [4, 4, 6, 2, 2, 2], [0, 1, 0, 1, 0, 1]) == [0, 1, 4, 5, 3, 2]
    # claim 2's lines swapped, and a row of claim 0 after the other claims: every claim moves.
    assert order([0, 0, 1, 1, 2, 2, 0], [4, 4, 6, 2, 2, 2, 4], [0, 1, 0, 1, 1, 0, 2]) == [0, 1, 6, 3, 2, 5, 4]
