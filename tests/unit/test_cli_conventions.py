"""The command line a coder expects: nothing cut silently, ended codes shown as ended, plain field names,
tables that fit 80 columns, money to the cent. On the made-up fixture store (real-data checks marked)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hcpcs.interfaces.cli.app import app
from hcpcs.interfaces.cli.render import diff_lines, history_table, search_table, shown_of
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mini-cli")
    mini_cms.build(root / "cms")
    return load_store(root / "home", root / "cms")


def run(home: Path, *args: str, columns: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "--home", str(home)], env={"COLUMNS": str(columns)})
    return result.exit_code, result.stdout, result.stderr


def rendered(renderable: object, width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_search_says_how_many_it_left_out(home: Path) -> None:
    code, out, err = run(home, "search", "Z99*", "--limit", "2")
    assert code == 0
    assert "2 of 6 result(s)" in out
    assert "showing 2 of 6; --all (or --limit 0) shows every one" in err
    _, everything, err_all = run(home, "search", "Z99*", "--all")
    assert "6 result(s)" in everything and "showing" not in err_all
    data = json.loads(run(home, "search", "Z99*", "--limit", "2", "--json")[1])
    assert (data["count"], data["total"], data["total_exact"], data["limit"]) == (2, 6, True, 2)
    assert json.loads(run(home, "search", "Z99*", "--limit", "0", "--json")[1])["count"] == 6


def test_shown_of() -> None:
    assert shown_of(3, 3) is None
    assert shown_of(3, 106) == "showing 3 of 106; --all shows every one"
    assert shown_of(250, 250, exact=False) == "showing 250 of at least 250; --all shows every one"


def test_ended_codes_are_shown_as_ended_whatever_their_status() -> None:
    data = {"total": 2, "total_exact": True, "count": 2, "results": [
        {"code": "G6001", "long_description": "Ultrasonic guidance", "status": "A", "termination_date": "2025-12-31",
         "ended": True},
        {"code": "G6099", "long_description": "Still valid", "status": "A", "termination_date": "2099-12-31",
         "ended": False}]}
    text = rendered(search_table(data, "G60*"))
    assert re.search(r"G6001 .* ended 2025-12-31", text)
    assert re.search(r"G6099 .* until 2099-12-31", text)


def test_search_marks_a_future_termination(home: Path) -> None:
    out = run(home, "search", "Z9990")[1]
    assert "until 2098-12-31" in out
    (hit,) = json.loads(run(home, "search", "Z9990", "--json")[1])["results"]
    assert hit["termination_date"] == "2098-12-31" and hit["ended"] is False


def test_diff_says_what_it_left_out() -> None:
    data = {"from": "A", "to": "B", "counts": {"added": 3, "discontinued": 1, "removed": 0, "changed": 1},
            "added": ["X0001", "X0002", "X0003"],
            "discontinued": [{"code": "X0009", "termination_date": "2025-12-31"}], "removed": [],
            "changed": [{"code": "X0005", "changes": [{"field": "nonfac_pe_rvu", "label": "PE RVU non-facility"}]}]}
    lines = [line.plain for line in diff_lines(data, 2)]
    assert "  added: showing 2 of 3; --all (or --limit 0) shows every one" in lines
    assert "  discontinued  X0009 (ended 2025-12-31)" in lines
    assert "  changed       X0005: PE RVU non-facility" in lines
    assert not any("showing" in line for line in diff_lines(data, None))


def test_history_uses_plain_field_names() -> None:
    data = {"code": "G6002", "events": [
        {"release": "RVU23A", "effective": "2023-01-01", "event": "changed", "changes": [
            {"field": "nonfac_pe_rvu", "label": "PE RVU non-facility", "old": 1.76, "new": 1.81},
            {"field": "conv_factor", "old": 34.6062, "new": 33.8872}]},
        {"release": "HCPCS 2026 Jan", "effective": "2026-01-01", "event": "discontinued", "changes": [
            {"field": "termination_date", "label": "Terminated", "old": None, "new": "2025-12-31"}]}]}
    text = rendered(history_table(data))
    assert "PE RVU non-facility: 1.76 → 1.81" in text
    assert "Conversion factor: 34.6062 → 33.8872" in text  # the label of the one mapping when none is sent
    assert "Terminated: — → 2025-12-31" in text
    assert "None" not in text and "nonfac_pe_rvu" not in text and "conv_factor" not in text


def test_every_diffed_field_has_a_label() -> None:
    from hcpcs.services.reference import FIELD_LABELS, HCPCS_FIELDS, MPFS_FIELDS

    assert set(HCPCS_FIELDS) | set(MPFS_FIELDS) <= set(FIELD_LABELS)


@pytest.mark.realdata
def test_terminated_radiation_guidance_codes_are_ended(hc: Hcpcs) -> None:
    from hcpcs.services.search import search

    found = search("G6001-G6017", limit=0, hc=hc)
    assert found["total"] == 17 and all(hit["ended"] for hit in found["results"])


def test_releases_at_80_columns_show_every_file_name_whole(home: Path) -> None:
    code, out, _ = run(home, "releases", columns=80)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    names = {f["name"] for r in Hcpcs(home).releases for f in r.source_files}
    assert names and all(name in out for name in names)
    wide = run(home, "releases", columns=200)[1]
    assert "┃ dataset" in wide and all(name in wide for name in names)


def test_fee_grid_at_80_columns_cuts_no_heading(home: Path) -> None:
    out = run(home, "fee", "Z9991", "--national", "--as-of", "2030-05-01", columns=80)[1]
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "NF: non-facility, F: facility" in out


def test_money_has_two_decimals_in_csv(home: Path) -> None:
    out = run(home, "fee", "Z9991", "--all-localities", "--format", "csv", "--as-of", "2030-05-01")[1]
    rows = out.strip().splitlines()[1:]
    assert rows
    for row in rows:
        _, _, _, amount, _, nonpar, limiting, _ = row.rsplit(",", 7) if row.count(",") > 7 else row.split(",")
        for cell in (amount, nonpar, limiting):
            assert cell == "" or re.fullmatch(r"\d+\.\d\d", cell), row


def test_fee_history_names_its_locality(home: Path) -> None:
    out = run(home, "fee", "Z9991", "--history", "--locality", "09902-01", columns=120)[1]
    first = out.splitlines()[0]
    assert "(09902-01)" in first and "Z9991 across fee-schedule releases" in first
    assert re.search(r"\$\d+\.\d\d", out)


CLAIMS_CSV = "claim_id,code,modifiers,date_of_service\nC1,Z9901,,08/01/2024\nC1,Z9902,,08/01/2024\n"


def test_check_csv_and_verbose_table_carry_the_details(home: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text(CLAIMS_CSV)
    code, out, _ = run(home, "check", str(claims), "--format", "csv")
    assert code == 1
    header, *rows = out.strip().splitlines()
    assert header.split(",")[5:8] == ["message", "details", "fix"]
    assert any(row.startswith("C1,PTP_BUNDLED,error,Z9901 Z9902,1 2,") for row in rows)
    terse = run(home, "check", str(claims), columns=200)[1]
    verbose = run(home, "check", str(claims), "--verbose", columns=200)[1]
    assert "why:" in verbose and "why:" not in terse
