"""The whole of ../shared/data/cms loaded once: every release, with the row counts SOURCES.md gives."""

from __future__ import annotations

from datetime import date

import pytest

from hcpcs.core.errors import NotCoveredError
from hcpcs.store.session import Hcpcs

pytestmark = pytest.mark.realdata


def release(hc: Hcpcs, label: str):  # noqa: ANN201
    matches = [r for r in hc.releases if r.label == label]
    assert matches, f"{label} not loaded; loaded: {[r.label for r in hc.releases]}"
    return matches[0]


def test_every_release_is_loaded(hc: Hcpcs) -> None:
    labels = {r.label for r in hc.releases}
    assert {"HCPCS 2019 Jan", "HCPCS 2020 Jan", "HCPCS 2026 Jan", "RVU22A", "RVU23A", "RVU23D", "RVU24A",
            "RVU24B", "RVU25A", "RVU25D", "AOC 2026Q2", "AOC 2024Q2 (edit table)",
            "PTP practitioner 2024Q3 (edit table)", "PTP hospital 2024Q3 (edit table)",
            "MUE practitioner 2024Q3 (edit table)", "MUE hospital 2024Q3 (edit table)",
            "OPPS Addendum B 2023 Jan"} <= labels


def test_row_counts_match_sources(hc: Hcpcs) -> None:
    hcpcs_2026 = release(hc, "HCPCS 2026 Jan")
    conn = hc.store.conn
    kinds = dict(conn.execute("SELECT record_kind, count(*) FROM hcpcs_code WHERE release_id = ? GROUP BY 1",
                              (hcpcs_2026.id,)).fetchall())
    assert kinds == {"procedure": 8623, "modifier": 383}
    assert release(hc, "RVU25D").row_counts["mpfs_rvu"] == 19090
    assert release(hc, "RVU25D").row_counts["mpfs_gpci"] == 109
    assert release(hc, "AOC 2026Q2").row_counts["ncci_aoc"] == 9000
    assert release(hc, "PTP practitioner 2024Q3 (edit table)").row_counts["ncci_ptp"] == 2_546_017
    assert release(hc, "PTP hospital 2024Q3 (edit table)").row_counts["ncci_ptp"] == 1_775_818
    assert release(hc, "MUE practitioner 2024Q3 (edit table)").row_counts["ncci_mue"] == 14_677
    assert release(hc, "MUE hospital 2024Q3 (edit table)").row_counts["ncci_mue"] == 14_628
    assert release(hc, "AOC 2024Q2 (edit table)").row_counts["ncci_aoc"] == 7_465


def test_one_release_from_several_encodings(hc: Hcpcs) -> None:
    rvu25a = release(hc, "RVU25A")
    names = {f["name"] for f in rvu25a.source_files}
    origins = {f["origin"] for f in rvu25a.source_files}
    # The CMS zip and the files extracted from it are one release.
    assert any("RVU25A.zip!" in o for o in origins) and any(o.endswith("PPRRVU25_JAN.csv.gz") for o in origins)
    assert {"PPRRVU25_JAN.csv", "PPRRVU25_JAN.txt", "PPRRVU25_JAN.xlsx", "GPCI2025.csv"} <= names
    assert "PPRRVU25_JAN.txt = PPRRVU25_JAN.csv" in rvu25a.meta["encodings_agree"]
    assert "PPRRVU25_JAN.xlsx = PPRRVU25_JAN.csv" in rvu25a.meta["encodings_agree"]
    assert rvu25a.meta["conversion_factor"] == pytest.approx(32.3465)


def test_conversion_factor_read_from_each_release(hc: Hcpcs) -> None:
    factors = {r.label: r.meta["conversion_factor"] for r in hc.releases if r.dataset == "mpfs"}
    assert factors["RVU22A"] == pytest.approx(34.6062)
    assert factors["RVU23A"] == pytest.approx(33.8872)
    assert factors["RVU24A"] == pytest.approx(32.7442)
    assert factors["RVU25D"] == pytest.approx(32.3465)


def test_release_in_force_by_date(hc: Hcpcs) -> None:
    assert hc.release_for("hcpcs", date(2024, 6, 1)).release.label == "HCPCS 2020 Jan"
    assert hc.release_for("hcpcs", date(2026, 2, 1)).release.label == "HCPCS 2026 Jan"
    assert hc.release_for("hcpcs", date(2019, 7, 1)).release.label == "HCPCS 2019 Jan"
    assert hc.release_for("mpfs", date(2024, 6, 1)).release.label == "RVU24B"
    assert hc.release_for("mpfs", date(2024, 2, 1)).release.label == "RVU24A"
    assert hc.release_for("mpfs", date(2025, 11, 1)).release.label == "RVU25D"
    # HCPCS 2020 answering for 2024 says that later files are not loaded.
    assert any("not loaded" in n for n in hc.release_for("hcpcs", date(2024, 6, 1)).notices)
    with pytest.raises(NotCoveredError):
        hc.release_for("mpfs", date(2026, 2, 1))
    # Add-on edits: the official 2026Q2 file (rows with dates) answers 2024 dates with a notice.
    aoc = hc.release_for("ncci_aoc", date(2024, 8, 12))
    assert aoc.release.label == "AOC 2026Q2" and not aoc.in_force
