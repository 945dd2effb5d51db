"""The Spark engine (`hcpcs.spark`) against the local batch engine on the same inputs: identical findings
(order aside), notices and errors, each bad record in the errors output with its place in the input."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from hcpcs.claims.readers import iter_chunks
from hcpcs.core.errors import DataNotLoadedError
from hcpcs.services.checking import check_chunks
from hcpcs.services.outputs import numbered_lines
from hcpcs.store.session import Hcpcs
from tests.conftest import load_store
from tests.unit import mini_cms

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "tests" / "fixtures" / "claims"


def _local(path: Path, hc: Hcpcs) -> dict[str, pl.DataFrame]:
    """What the local pipeline (`hcpcs check --format parquet`) finds in a claim file."""
    checked = list(check_chunks(iter_chunks(path), hc, engine="batch"))
    return {
        "findings": pl.concat([c.findings for c in checked]).with_columns(lines=numbered_lines()),
        "notices": pl.concat([c.notices.select("claim", "claim_id", "notices") for c in checked]),
        "errors": pl.concat([c.claims.filter(pl.col("error_message").is_not_null()).select(
            "claim", "claim_id", location="error_location", message="error_message") for c in checked]),
        "records": pl.DataFrame({"records": [sum(c.claims.height for c in checked)]}),
    }


def _on_spark(spark: Any, path: Path, store: Path) -> dict[str, pl.DataFrame]:
    from hcpcs import spark as hcpcs_spark

    chosen, frame = hcpcs_spark.read_claims(spark, path)
    result = hcpcs_spark.check_result(frame, store=store, input_format="jsonl" if chosen == "jsonl" else "lines")
    try:
        out = {name: pl.from_arrow(getattr(result, name).toArrow()) for name in ("findings", "notices", "errors")}
        out["records"] = pl.DataFrame({"records": [result.summary()["records"]]})
    finally:
        result.unpersist()
    return out  # type: ignore[return-value]


def _same(local: dict[str, pl.DataFrame], spark: dict[str, pl.DataFrame]) -> None:
    for name, expected in local.items():
        got = spark[name].select(expected.columns)
        keys = [c for c in expected.columns if not isinstance(expected.schema[c], pl.List)]
        assert got.schema == expected.schema, name
        assert got.sort(keys).equals(expected.sort(keys)), f"{name} differ"


@pytest.fixture(scope="module")
def mini_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mini")
    return load_store(root / "home", mini_cms.build(root / "cms"))


def _with_bad_records(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture claims as JSON Lines with bad records and blank lines among them, and as Parquet claim
    lines with bad rows (no claim id, units that are not a count, a code that is not one)."""
    good = [json.loads(line) for line in (CLAIMS / "claims.jsonl").read_text().splitlines()
            if line.strip() and line.strip().endswith("}")]
    text = []
    for number, claim in enumerate(good * 40):
        text.append(json.dumps({**claim, "id": f"{claim['id']}-{number}"}))
        if number % 37 == 5:
            text.append("{not json")
        if number % 53 == 7:
            text.append("")
        if number % 61 == 11:
            text.append(json.dumps({"id": f"bad-{number}", "date_of_service": "2024-13-40", "lines": [{"code": "7"}]}))
    jsonl = tmp_path / "claims.jsonl"
    jsonl.write_text("\n".join(text) + "\n")
    rows: dict[str, list] = {"claim_id": [], "date_of_service": [], "code": [], "modifiers": [], "units": []}
    rng = random.Random(12)
    for number, claim in enumerate(good * 40):
        for line in claim["lines"]:
            rows["claim_id"].append("" if number % 71 == 3 else f"{claim['id']}-{number}")
            rows["date_of_service"].append(claim["date_of_service"])
            rows["code"].append("BAD!" if number % 89 == 4 else line["code"])
            modifiers = line.get("modifiers") or []
            rows["modifiers"].append([modifiers] if isinstance(modifiers, str) else modifiers)
            rows["units"].append(rng.choice([1.0, 2.0, 2.5]) if number % 97 == 9 else float(line.get("units", 1)))
    parquet = tmp_path / "claims.parquet"
    pl.DataFrame(rows).write_parquet(parquet, row_group_size=500)
    return jsonl, parquet


def test_spark_matches_local_on_fixture_store_with_bad_records(spark: Any, mini_store: Path, tmp_path: Path) -> None:
    jsonl, parquet = _with_bad_records(tmp_path)
    hc = Hcpcs(mini_store)
    for path in (jsonl, parquet):
        local = _local(path, hc)
        assert local["errors"].height >= 5 and local["findings"].height, path  # the input exercises both
        _same(local, _on_spark(spark, path, mini_store))


def test_missing_store_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    from hcpcs import spark as hcpcs_spark

    frame = spark.createDataFrame([("C1", "2024-08-12", "99213")], "claim_id string, date_of_service string, code string")
    with pytest.raises(DataNotLoadedError, match="no hcpcs store"):
        hcpcs_spark.check(frame, store=tmp_path)


@pytest.mark.realdata
def test_spark_matches_local_on_generated_workload(spark: Any, hc: Hcpcs, cms_data: Path, tmp_path: Path) -> None:
    """A few thousand claims of the benchmark workload (real CMS tables): the same findings, notices and
    errors on Spark (local[2]) as on the local engine, from Parquet claim lines and from JSON Lines."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import workload
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    items = workload.claims(3000, 7, workload.active_pairs(workload.DEFAULT_PTP))
    jsonl, parquet = tmp_path / "claims.jsonl", tmp_path / "claims.parquet"
    workload.write_jsonl(items, jsonl)
    workload.write_parquet(items, parquet)
    store = hc.store.path.parent
    for path in (parquet, jsonl):
        local = _local(path, hc)
        assert local["findings"].height > 500
        _same(local, _on_spark(spark, path, store))


def test_cli_engine_spark_writes_the_parquet_folder(spark: Any, mini_store: Path, tmp_path: Path) -> None:
    """`hcpcs check --engine spark INPUT OUTPUT_DIR` (in this process: it joins the test's session), the store
    shipped to the workers with addFile: the local engine's findings and errors, exit status 2 (bad records)."""
    from typer.testing import CliRunner

    from hcpcs.interfaces.cli.app import app

    jsonl, _ = _with_bad_records(tmp_path)
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["check", "--engine", "spark", "--ship-store", "--home", str(mini_store),
                                    str(jsonl), str(out)])
    assert done.exit_code == 2, done.output
    local = _local(jsonl, Hcpcs(mini_store))
    assert f"{local['errors'].height} could" in " ".join(done.output.split())
    written = {name: pl.read_parquet(out / name / "*.parquet") for name in ("findings", "notices", "errors")}
    _same({name: local[name] for name in written}, written)


def test_cli_output_folder_needs_engine_spark(mini_store: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hcpcs.interfaces.cli.app import app

    done = CliRunner().invoke(app, ["check", "--home", str(mini_store), str(CLAIMS / "claims.jsonl"),
                                    str(tmp_path / "out")])
    assert done.exit_code == 2
    assert "goes with --engine spark" in done.output
