"""One local Spark session (local[2]) for the whole test session; the Spark tests skip, saying why, when
pyspark or Java is absent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from hcpcs.spark import SparkUnavailableError, require_spark, spark_session

    try:
        require_spark()
    except SparkUnavailableError as exc:
        pytest.skip(f"Spark tests skipped: {exc}")
    session = spark_session("local[2]", app_name="hcpcs tests", config={
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": "2g"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
