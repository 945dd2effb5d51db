"""The claim rules on Apache Spark: the same columnar rule functions as the local batch engine, run on each
partition of a Spark DataFrame of claim lines (`pip install "hcpcs[spark]"`).

    from hcpcs import spark as hcpcs_spark
    findings = hcpcs_spark.check(claim_lines_df, as_of=None, policy=(), store="/shared/hcpcs")

The lines are numbered in the DataFrame's order (`line N` of an error is the row's place, from 1, and a
claim's position is its place among the claims, numbered by their first row, as the local readers number
them), brought together by claim (`repartition` on the claim id, sorted within each partition), and handed
to Python with `mapInArrow`: each partition's Arrow record batches are read by polars without a copy, by the
local Parquet reader's checks (a bad record becomes an error, never dropped), checked by the local batch
engine, and returned as Arrow. The columns of the findings are those of the local engine's findings.parquet.

The reference tables reach the executors as the store itself: a folder (hcpcs.sqlite and its Arrow table
cache) that every node reads at the same path (local mode, NFS, a Databricks /dbfs or /Volumes path), or,
with `ship_store=True`, copied once to every node by `SparkContext.addFile`. Each executor's Python worker
opens it once and keeps the loaded tables for the partitions it checks next (see `hcpcs.spark.worker`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from hcpcs.spark.plan import (
    INPUT_FORMATS,
    SparkCheckResult,
    SparkUnavailableError,
    read_claims,
    require_spark,
    spark_session,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["INPUT_FORMATS", "SparkCheckResult", "SparkUnavailableError", "check", "check_file", "check_result",
           "read_claims", "require_spark", "spark_session"]


def check_result(claims: DataFrame, *, as_of: date | str | None = None, policy: Sequence[str] = (),
                 no_policy: Sequence[str] = (), store: str | os.PathLike[str] | None = None,
                 ship_store: bool = False, partitions: int | None = None, input_format: str = "lines"
                 ) -> SparkCheckResult:
    """Findings, notices and errors of claims in a Spark DataFrame: claim lines (`input_format` "lines":
    one row per line, columns claim_id, setting, date_of_service, code, modifiers, units,
    line_date_of_service, place_of_service... with the names and aliases the local CSV and Parquet readers
    accept) or JSON Lines text ("jsonl": `spark.read.text` of a JSON Lines file). `policy` names policy
    packs (built-in names or TOML files) to apply besides the default ones, `no_policy` turns default
    ones off ("all": every one). The result is computed once and kept (persisted) by Spark."""
    from hcpcs.services.checking import resolve_packs
    from hcpcs.spark import plan

    packs = resolve_packs(list(policy), no_packs=list(no_policy))
    reference = plan.reference_for(claims.sparkSession, store, as_of=as_of, packs=packs, ship_store=ship_store)
    kept: list[DataFrame] = []
    if input_format == "jsonl":
        combined = plan.check_jsonl_text(claims, reference, kept)
    elif input_format == "lines":
        combined = plan.check_lines(claims, reference, kept, partitions=partitions)
    else:
        from hcpcs.core.errors import InvalidInputError

        raise InvalidInputError(f"input_format {input_format!r}: use lines or jsonl")
    from pyspark import StorageLevel

    return SparkCheckResult(combined.persist(StorageLevel.MEMORY_AND_DISK), kept)


def check(claims: DataFrame, *, as_of: date | str | None = None, policy: Sequence[str] = (),
          no_policy: Sequence[str] = (), store: str | os.PathLike[str] | None = None, ship_store: bool = False,
          partitions: int | None = None) -> DataFrame:
    """The findings of a DataFrame of claim lines (see `check_result`), with the columns of the local
    engine's findings.parquet (claim_id, claim, rule, severity, codes, lines, message, details, fix,
    source_dataset, source_release, source_row, source_extra, source_files, citation)."""
    return check_result(claims, as_of=as_of, policy=policy, no_policy=no_policy, store=store,
                        ship_store=ship_store, partitions=partitions).findings


def check_file(path: str | os.PathLike[str], output: str | os.PathLike[str], *, master: str | None = None,
               input_format: str | None = None, as_of: date | str | None = None, policy: Sequence[str] = (),
               no_policy: Sequence[str] = (), store: str | os.PathLike[str] | None = None,
               ship_store: bool = False) -> dict[str, object]:
    """Check a claim file or folder (Parquet claim lines or JSON Lines) on Spark and write findings/,
    notices/ and errors/ (Parquet) under `output`; returns the run's summary (`SparkCheckResult.summary`)."""
    from hcpcs.spark.plan import spark_failure, store_folder

    store_folder(store)  # before Spark starts: a missing store is said at once
    spark = spark_session(master)
    try:
        chosen, frame = read_claims(spark, path, input_format)
        result = check_result(frame, as_of=as_of, policy=policy, no_policy=no_policy, store=store,
                              ship_store=ship_store, input_format="jsonl" if chosen == "jsonl" else "lines")
        try:
            result.write(output)
            return result.summary()
        finally:
            result.unpersist()
    except Exception as exc:
        failure = spark_failure(exc)
        if failure is None:
            raise
        raise failure from None
