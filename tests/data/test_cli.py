"""The command line on the real data: exit statuses, JSON output, and clean one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HCPCS_HOME": str(home), "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "hcpcs.interfaces.cli.app", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=300)


def test_lookup_json(loaded_home: Path) -> None:
    result = run(loaded_home, "lookup", "G6002", "--as-of", "2024-08-01", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["code"] == "G6002" and data["valid_on_date"] is True
    assert data["betos"] == {"code": "I4B", "meaning": data["betos"]["meaning"]}


def test_lookup_card_says_discontinued_first(loaded_home: Path) -> None:
    result = run(loaded_home, "lookup", "G6002", "--as-of", "2026-02-01")
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.strip().splitlines()[0]
    assert "Invalid" in first_line and "2025-12-31" in first_line


@pytest.mark.parametrize("args", [
    ("lookup", "G60"), ("lookup", "Z9999"), ("lookup", "G6002", "--as-of", "2024-13-01"),
    ("lookup", "G6002", "--as-of", "2001-01-01"), ("fee", "G6002", "--locality", "99999-99", "--as-of", "2025-11-01"),
    ("fee", "G6002", "--state", "CA", "--county", "Atlantis", "--as-of", "2025-11-01"),
    ("fee", "G6017", "--modifier", "TC", "--national", "--as-of", "2025-11-01"),
    ("fee", "G6002", "--national", "--as-of", "2026-02-01"), ("diff", "HCPCS 2020 Jan", "RVU25D"),
    ("update", "--from", "/nonexistent/folder"),
])
def test_bad_input_is_one_clear_line(loaded_home: Path, args: tuple[str, ...]) -> None:
    result = run(loaded_home, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:")


def test_fee_exit_status_and_json(loaded_home: Path) -> None:
    ok = run(loaded_home, "fee", "G6002", "--modifier", "26", "--national", "--as-of", "2025-11-01", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["amount"] == 20.05
    not_payable = run(loaded_home, "fee", "77385", "--national", "--as-of", "2025-11-01")
    assert not_payable.returncode == 1
    table = run(loaded_home, "fee", "G6002", "--all-localities", "--format", "csv", "--as-of", "2025-11-01")
    assert table.returncode == 0 and len(table.stdout.strip().splitlines()) == 110


def test_check_exit_statuses(loaded_home: Path, tmp_path: Path) -> None:
    bad_claims = tmp_path / "claims.jsonl"
    bad_claims.write_text(
        '{"id": "a", "date_of_service": "2024-08-12", "lines": [{"code": "77373"}, {"code": "G6002"}]}\n'
        '{"id": "b", "date_of_service": "2024-08-12", "lines": [{"code": "77301"}, {"code": "77293"}]}\n')
    result = run(loaded_home, "check", str(bad_claims), "--format", "json")
    assert result.returncode == 1
    out = {c["id"]: c for c in json.loads(result.stdout)}
    # The CMS edit, then the default radiation-oncology pack's (on for the claims carrying its codes).
    assert [f["rule"] for f in out["a"]["findings"]] == ["PTP_BUNDLED", "RADONC_IGRT_BUNDLED_INTO_DELIVERY"]
    assert out["a"]["findings"][1]["source"]["dataset"] == "policy-pack" and out["a"]["findings"][1]["citation"]
    assert out["b"]["findings"] == []
    without = run(loaded_home, "check", str(bad_claims), "--format", "json", "--no-policy", "radonc-igrt")
    assert [f["rule"] for f in json.loads(without.stdout)[0]["findings"]] == ["PTP_BUNDLED"]
    clean = tmp_path / "clean.json"
    clean.write_text('{"id": "b", "date_of_service": "2024-08-12", "lines": [{"code": "77301"}]}')
    assert run(loaded_home, "check", str(clean)).returncode == 0
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "date_of_service": "2024-08-12", "lines": [{"code": "77301"}]}\nnot json\n'
                      '{"id": "c", "date_of_service": "2024-08-12", "lines": [{"code": "77301", "units": -1}]}\n')
    result = run(loaded_home, "check", str(broken), "--format", "jsonl")
    assert result.returncode == 2
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["id"] == "a" and rows[0]["findings"] == []
    assert {r.get("id") for r in rows if "error" in r} >= {"c"}
    garbage = tmp_path / "garbage.x12"
    garbage.write_bytes(b"ISA*garbage~~~\x00\x01")
    result = run(loaded_home, "check", str(garbage))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_check_engines_agree(loaded_home: Path, tmp_path: Path) -> None:
    """`--engine batch` (in chunks, with notices) prints what `--engine single` prints, claims with a
    repeated id included: each JSON claim is checked on its own."""
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps([
        {"id": "a", "date_of_service": "2024-08-12", "lines": [{"code": "77373"}]},
        {"id": "a", "date_of_service": "2024-08-12", "lines": [{"code": "G6002"}]},
        {"id": "b", "date_of_service": "2024-08-12", "lines": [{"code": "77373"}, {"code": "G6002", "modifiers": ["59"]}]},
        {"id": "c", "setting": "facility", "date_of_service": "2024-08-12", "lines": [{"code": "77301", "units": 3}]},
    ]))
    single = run(loaded_home, "check", str(claims), "--format", "json", "--engine", "single")
    many = run(loaded_home, "check", str(claims), "--format", "json", "--engine", "batch")
    assert single.returncode == many.returncode == 1, (single.stderr, many.stderr)
    assert json.loads(many.stdout) == json.loads(single.stdout)
    rules = [[f["rule"] for f in claim["findings"]] for claim in json.loads(many.stdout)]
    # G6002 alone: the default radiation-oncology pack asks for the treatment delivery it guides.
    assert rules[:3] == [[], ["RADONC_GUIDANCE_REQUIRES_TREATMENT"],
                         ["PTP_NOT_BYPASSABLE", "RADONC_IGRT_BUNDLED_INTO_DELIVERY"]]
    assert all("notices" in claim for claim in json.loads(many.stdout))


def test_releases_and_history(loaded_home: Path) -> None:
    releases = json.loads(run(loaded_home, "releases", "--json").stdout)
    assert any(r["label"] == "RVU25D" and r["row_counts"]["mpfs_rvu"] == 19090 for r in releases)
    history = run(loaded_home, "history", "G6002")
    assert history.returncode == 0 and "discontinued" in history.stdout


def test_search_similar_diff(loaded_home: Path) -> None:
    found = json.loads(run(loaded_home, "search", "stereoscopic guidance", "--json").stdout)
    assert found["results"][0]["code"] == "G6002"
    similar = {r["code"] for r in json.loads(run(loaded_home, "similar", "G6002", "--json").stdout)["similar"]}
    assert {"G6001", "G6017", "77014", "77387"} <= similar
    diff = json.loads(run(loaded_home, "diff", "HCPCS 2020 Jan", "HCPCS 2026 Jan", "--range", "G6001-G6017",
                          "--json").stdout)
    assert [d["code"] for d in diff["discontinued"]] == [f"G60{n:02d}" for n in range(1, 18)]
