"""The driver's side of a Spark run: the session, the claim inputs as DataFrames, and the plan that numbers
the records, brings each claim's lines together, checks every partition in the workers (`worker`) and
splits what comes back into findings, notices and errors."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hcpcs.core.dates import parse_date
from hcpcs.core.errors import DataNotLoadedError, HcpcsError, InvalidInputError
from hcpcs.edits.packs import PolicyPack
from hcpcs.spark import worker
from hcpcs.store.db import DB_NAME

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

_PARTITION_BITS = 33  # monotonically_increasing_id: partition index above bit 33, row within it below
INPUT_FORMATS = ("parquet", "jsonl")


class SparkUnavailableError(HcpcsError):
    """pyspark or Java is missing, or Spark would not start."""


def require_spark() -> None:
    """Raise SparkUnavailableError, with what to install, when pyspark or Java is absent."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailableError('the Spark engine needs pyspark: pip install "hcpcs[spark]"') from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and (Path(java_home) / "bin" / "java").exists()) and shutil.which("java") is None:
        raise SparkUnavailableError("the Spark engine needs Java 17 or later (no `java` on PATH and no JAVA_HOME); "
                                    "e.g. apt-get install openjdk-17-jre-headless")


def same_python() -> None:
    """Spark's Python workers run this interpreter (the one hcpcs is installed in) unless told otherwise."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def spark_session(master: str | None = None, *, app_name: str = "hcpcs check",
                  config: dict[str, str] | None = None) -> SparkSession:
    """The active Spark session, or a new one on `master` (spark-submit's when None)."""
    require_spark()
    same_python()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "true")
    if master:
        builder = builder.master(master)
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's reasons come in many types
        raise SparkUnavailableError(f"Spark would not start: {str(exc).splitlines()[0][:300]}") from None


def spark_failure(exc: BaseException) -> HcpcsError | None:
    """A Spark job's failure as one clear error: the hcpcs error a worker raised (its last line), or what
    Spark said; None for an exception that is not Spark's."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:
        return None
    if isinstance(exc, HcpcsError) or not isinstance(exc, PySparkException):
        return None
    text = str(exc)
    raised = [line.strip() for line in text.splitlines() if line.strip().startswith("hcpcs.core.errors.")]
    if raised:
        name, _, message = raised[-1].partition(": ")
        return DataNotLoadedError(message) if name.endswith("DataNotLoadedError") else HcpcsError(message)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return SparkUnavailableError(f"the Spark job failed: {first[:400]}")


# ------------------------------------------------------------------------------------------- the store


def store_folder(store: str | os.PathLike[str] | None) -> Path:
    """The store folder (default $HCPCS_HOME or the per-user data folder), refused when it holds no store."""
    from hcpcs.store.db import default_home

    folder = Path(store) if store is not None else default_home()
    if not (folder / DB_NAME).is_file():
        raise DataNotLoadedError(f"no hcpcs store at {folder} (no {DB_NAME}): run `hcpcs update` first, or "
                                 "name the store folder")
    return folder


def reference_for(spark: SparkSession, store: str | os.PathLike[str] | None, *, as_of: date | str | None,
                  packs: Sequence[PolicyPack], ship_store: bool) -> worker.Reference:
    """The store the workers read: `store` (a folder holding hcpcs.sqlite, default $HCPCS_HOME or the
    per-user data folder) at the same path on every node, or copied to each node by `addFile` when
    `ship_store`."""
    from hcpcs.store.session import Hcpcs

    folder = store_folder(store)
    hc = Hcpcs(folder)
    try:
        if not hc.releases:
            raise DataNotLoadedError(f"the store at {folder} holds no release: run `hcpcs update` first")
        identity = worker.store_identity(hc)
    finally:
        hc.close()
    day = parse_date(as_of, "as-of date") if as_of else None
    shipped = None
    if ship_store:
        spark.sparkContext.addFile(str(folder.resolve()), recursive=True)
        shipped = folder.resolve().name
    return worker.Reference(str(folder.resolve()), identity, day, tuple(packs), shipped)


# ------------------------------------------------------------------------------------------- numbering


def _numbered(frame: DataFrame, column: str, kept: list[DataFrame], *, counted: Column | None = None,
              base_column: str | None = None) -> DataFrame:
    """`frame` with `column`: each row's place in the frame's partition order, from 1 (no shuffle: one
    small job counts the rows of each partition). With `counted` (a boolean column), `base_column` is the
    number of rows before the row's partition for which `counted` holds. The frame is persisted (and added
    to `kept`) with its row ids, so that the counts and the numbers come from the same partitions whatever
    Spark's adaptive execution does to the plan computed again."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    marked = frame.withColumn("_hcpcs_id", F.monotonically_increasing_id()).persist(StorageLevel.MEMORY_AND_DISK)
    kept.append(marked)
    partition = F.shiftright(F.col("_hcpcs_id"), _PARTITION_BITS)
    totals = [F.count(F.lit(1)).alias("rows")]
    if counted is not None:
        totals.append(F.sum(F.when(counted, 1).otherwise(0)).alias("counted"))
    sizes = sorted(marked.groupBy(partition.alias("partition")).agg(*totals).collect())
    row_base, counted_base = {}, {}
    rows_before = counted_before = 0
    for entry in sizes:
        row_base[entry["partition"]] = rows_before
        counted_base[entry["partition"]] = counted_before
        rows_before += entry["rows"]
        if counted is not None:
            counted_before += entry["counted"] or 0
    within = F.col("_hcpcs_id") - F.shiftleft(partition, _PARTITION_BITS)
    out = marked.withColumn(column, _lookup(row_base, partition) + within + 1)
    if base_column is not None:
        out = out.withColumn(base_column, _lookup(counted_base, partition))
    return out.drop("_hcpcs_id")


def _lookup(values: dict[int, int], key: Column) -> Column:
    from pyspark.sql import functions as F

    if not values:
        return F.lit(0).cast("long")
    pairs = [item for k, v in sorted(values.items()) for item in (F.lit(k), F.lit(v).cast("long"))]
    return F.element_at(F.create_map(*pairs), key)


# ------------------------------------------------------------------------------------------- the run


@dataclass
class SparkCheckResult:
    """What a Spark check found: `findings` (the columns of the local engine's findings.parquet),
    `notices` (claim, claim_id, notices) and `errors` (claim, claim_id, location, message) of the records
    that could not be read, all read from `combined` (kept by Spark once computed: call `unpersist`)."""

    combined: DataFrame
    kept: list[DataFrame]  # frames persisted on the way

    @property
    def findings(self) -> DataFrame:
        from hcpcs.edits.columnar import FINDING_SCHEMA

        return self.combined.filter("kind = 'findings'").select(*FINDING_SCHEMA)

    @property
    def notices(self) -> DataFrame:
        return self.combined.filter("kind = 'notices'").select("claim", "claim_id", "notices")

    @property
    def errors(self) -> DataFrame:
        from pyspark.sql import functions as F

        return self.combined.filter("kind = 'errors'").select(
            "claim", "claim_id", F.col("error_location").alias("location"), F.col("error_message").alias("message"))

    def summary(self) -> dict[str, Any]:
        """Records read, records refused, findings by severity, claims with an error finding."""
        from pyspark.sql import functions as F

        rows = self.combined.groupBy("kind", "severity").agg(
            F.count(F.lit(1)).alias("rows"), F.sum("records").alias("records"),
            F.countDistinct(F.when(F.col("severity") == "error", F.col("claim"))).alias("claims")).collect()
        out: dict[str, Any] = {"records": 0, "bad_records": 0, "findings": {}, "claims_with_errors": 0}
        for row in rows:
            if row["kind"] == "records":
                out["records"] += row["records"] or 0
            elif row["kind"] == "errors":
                out["bad_records"] += row["rows"]
            elif row["kind"] == "findings":
                out["findings"][row["severity"]] = row["rows"]
                out["claims_with_errors"] += row["claims"] if row["severity"] == "error" else 0
        return out

    def write(self, folder: str | os.PathLike[str], *, mode: str = "error") -> None:
        """findings/, notices/ and errors/ under `folder`, each a Parquet dataset (a folder of part files)."""
        for name in ("findings", "notices", "errors"):
            getattr(self, name).write.mode(mode).parquet(str(Path(folder) / name))

    def unpersist(self) -> None:
        for frame in [self.combined, *self.kept]:
            frame.unpersist()


def _output_type() -> str:
    from hcpcs.edits.columnar import FINDING_SCHEMA

    types = {"String": "string", "Int64": "bigint", "List(String)": "array<string>", "List(Int64)": "array<bigint>"}
    fields = ["kind string", *(f"{name} {types[str(dtype)]}" for name, dtype in FINDING_SCHEMA.items()),
              "notices array<string>", "error_location string", "error_message string", "records bigint"]
    return ", ".join(fields)


def _trimmed(column: Column) -> Column:
    from pyspark.sql import functions as F

    return F.regexp_replace(column.cast("string"), r"^\s+|\s+$", "")


def check_lines(claims: DataFrame, reference: worker.Reference, kept: list[DataFrame], *,
                partitions: int | None = None) -> DataFrame:
    """The combined output (`worker.OUTPUT_SCHEMA`) of a DataFrame of claim lines."""
    from pyspark.sql import functions as F

    from hcpcs.claims.csv_claims import read_header
    from hcpcs.core.errors import ClaimFormatError

    columns = list(claims.columns)
    try:
        header = read_header(columns, 1, "claims")
    except ClaimFormatError as exc:
        raise InvalidInputError(f"the claim lines DataFrame: {exc.args[0] if exc.args else exc}") from None
    claim_id = columns[header.columns["claim_id"]]
    spark = claims.sparkSession
    count = partitions or max(claims.rdd.getNumPartitions(), spark.sparkContext.defaultParallelism)
    rows = _numbered(claims, worker.ROW_COLUMN, kept)
    # A claim is the rows of one id; a row without an id is a record of its own (refused by the reader).
    key = F.when(F.coalesce(_trimmed(F.col(f"`{claim_id}`")), F.lit("")) == "",
                 F.concat(F.lit("\u0000row "), F.col(worker.ROW_COLUMN).cast("string"))
                 ).otherwise(_trimmed(F.col(f"`{claim_id}`")))
    # Every row of a claim in one partition (hash of the key; kept by either join strategy below).
    rows = rows.withColumn("_hcpcs_key", key).repartition(count, "_hcpcs_key")
    # Claims numbered by their first row, as the local readers number them.
    firsts = rows.groupBy("_hcpcs_key").agg(F.min(worker.ROW_COLUMN).alias("_hcpcs_first"))
    by_first = firsts.repartitionByRange(count, "_hcpcs_first").sortWithinPartitions("_hcpcs_first")
    ordered = _numbered(by_first, "_hcpcs_place", kept)
    positions = ordered.select("_hcpcs_key", (F.col("_hcpcs_place") - 1).alias(worker.CLAIM_COLUMN))
    together = rows.join(positions, "_hcpcs_key").drop("_hcpcs_key")
    together = together.sortWithinPartitions(worker.CLAIM_COLUMN, worker.ROW_COLUMN)
    together = together.select(*(F.col(f"`{c}`") for c in columns), worker.ROW_COLUMN, worker.CLAIM_COLUMN)
    run = partial(worker.check_line_batches, reference=reference, columns=columns)
    return together.mapInArrow(run, _output_type())


def check_jsonl_text(lines: DataFrame, reference: worker.Reference, kept: list[DataFrame]) -> DataFrame:
    """The combined output of JSON Lines text (`spark.read.text`: one row per line, in file order)."""
    from pyspark.sql import functions as F

    text = F.col(worker.TEXT_COLUMN)
    numbered = _numbered(lines.select(worker.TEXT_COLUMN), worker.ROW_COLUMN, kept,
                         counted=F.length(F.trim(text)) > 0, base_column=worker.POSITION_BASE_COLUMN)
    run = partial(worker.check_jsonl_batches, reference=reference)
    return numbered.mapInArrow(run, _output_type())


def read_claims(spark: SparkSession, path: str | os.PathLike[str], input_format: str | None = None) -> tuple[str, DataFrame]:
    """(format, DataFrame) of a claim file or folder of files: Parquet claim lines as they are (Spark reads
    unsigned Parquet integers as wider signed types), JSON Lines as text (one row per line, read by the
    local reader in the workers)."""
    source = Path(path)
    chosen = input_format or _detect(source)
    if chosen not in INPUT_FORMATS:
        raise InvalidInputError(f"--input-format {chosen!r}: the Spark engine reads {', '.join(INPUT_FORMATS)}")
    if chosen == "jsonl":
        return chosen, spark.read.text(str(path))
    frame = spark.read.parquet(str(path))
    return chosen, frame


def _detect(source: Path) -> str:
    if not source.exists() and "://" not in str(source):
        raise InvalidInputError(f"{source}: no such file or folder")
    names = [source.name] if not source.is_dir() else [p.name for p in source.iterdir() if not p.name.startswith(("_", "."))]
    suffixes = {Path(name).suffix.lower() for name in names}
    if suffixes and suffixes <= {".parquet"}:
        return "parquet"
    if suffixes and suffixes <= {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise InvalidInputError(f"{source}: say --input-format parquet or jsonl (files found: {', '.join(sorted(suffixes))})")
