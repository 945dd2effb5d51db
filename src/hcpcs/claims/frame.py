"""Claims as columns: the frames every reader produces and the batch engine checks.

A `ClaimChunk` is a run of consecutive input records:

- `claims`: one row per record, in input order: ``claim`` (its position in the whole input, from 0),
  ``claim_id``, ``record`` (where it is: ``line 12``, ``claims[3]``, ``segment 40 (CLM)``), and for a record
  that could not be read ``error_location`` and ``error_message`` (null for a good claim);
- `lines`: the service lines of the good claims (`LINE_SCHEMA`): ``claim``, ``claim_id``, ``setting``,
  ``line`` (0-based within the claim), ``code``, ``modifiers``, ``units``, ``dos`` (the line's date of
  service, else the claim's), ``place_of_service``, ``minutes`` (anesthesia time of an X12 ``MJ`` line,
  else null; such a line has ``units`` 1).

Readers of large inputs build these frames straight from columnar readers (pyarrow, polars); what they read
is checked here column-wise (`suspect_claims`): a record whose values may be bad is read again by the
row-wise parser of `hcpcs.claims.values`, which gives the error its location and words, so that both paths
accept and refuse exactly the same things."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from hcpcs.claims.model import SETTINGS, Claim, ClaimError
from hcpcs.claims.values import CODE_PATTERN, MAX_UNITS, MODIFIER_PATTERN

LINE_SCHEMA: dict[str, pl.DataType] = {
    "claim": pl.Int64(), "claim_id": pl.String(), "setting": pl.String(), "line": pl.Int64(), "code": pl.String(),
    "modifiers": pl.List(pl.String()), "units": pl.Float64(), "dos": pl.Date(), "place_of_service": pl.String(),
    "minutes": pl.Int64(),
}
CLAIM_SCHEMA: dict[str, pl.DataType] = {
    "claim": pl.Int64(), "claim_id": pl.String(), "record": pl.String(), "error_location": pl.String(),
    "error_message": pl.String(),
}


@dataclass
class ClaimChunk:
    claims: pl.DataFrame  # CLAIM_SCHEMA
    lines: pl.DataFrame  # LINE_SCHEMA

    @property
    def size(self) -> int:
        return self.claims.height

    @property
    def errors(self) -> pl.DataFrame:
        return self.claims.filter(pl.col("error_message").is_not_null())

    def good_claims(self) -> list[Claim]:
        """The good claims as `Claim` objects (for the single-claim engine: small chunks only)."""
        return claims_of(self.lines, self.claims)


def empty_chunk() -> ClaimChunk:
    return ClaimChunk(pl.DataFrame(schema=CLAIM_SCHEMA), pl.DataFrame(schema=LINE_SCHEMA))


def chunk_of(items: Sequence[Claim | ClaimError], start: int, records: Sequence[str] | None = None) -> ClaimChunk:
    """The chunk of claims and errors read one by one (claim positions from `start`)."""
    claim_rows: dict[str, list] = {name: [] for name in CLAIM_SCHEMA}
    lines: dict[str, list] = {name: [] for name in LINE_SCHEMA}
    for offset, item in enumerate(items):
        position = start + offset
        claim_rows["claim"].append(position)
        claim_rows["record"].append(records[offset] if records is not None else None)
        if isinstance(item, ClaimError):
            claim_rows["claim_id"].append(item.claim_id)
            claim_rows["error_location"].append(item.location)
            claim_rows["error_message"].append(item.message)
            continue
        claim_rows["claim_id"].append(item.id)
        claim_rows["error_location"].append(None)
        claim_rows["error_message"].append(None)
        for index, line in enumerate(item.lines):
            lines["claim"].append(position)
            lines["claim_id"].append(item.id)
            lines["setting"].append(item.setting)
            lines["line"].append(index)
            lines["code"].append(line.code)
            lines["modifiers"].append(list(line.modifiers))
            lines["units"].append(float(line.units))
            lines["dos"].append(line.date_of_service or item.date_of_service)
            lines["place_of_service"].append(line.place_of_service or item.place_of_service)
            lines["minutes"].append(line.minutes)
    return ClaimChunk(pl.DataFrame(claim_rows, schema=CLAIM_SCHEMA), pl.DataFrame(lines, schema=LINE_SCHEMA))


def claims_of(lines: pl.DataFrame, claims: pl.DataFrame | None = None) -> list[Claim]:
    """`Claim` objects of a line frame, by claim position (only the good claims of `claims` when given)."""
    from hcpcs.claims.model import ClaimLine

    out: list[Claim] = []
    by_claim: dict[int, list[dict]] = {}
    for row in lines.iter_rows(named=True):
        by_claim.setdefault(row["claim"], []).append(row)
    positions = (claims.filter(pl.col("error_message").is_null())["claim"].to_list() if claims is not None
                 else list(by_claim))
    for position in positions:
        rows = by_claim.get(position, [])
        if not rows:
            continue
        first = rows[0]
        day = min(r["dos"] for r in rows)
        out.append(Claim(
            first["claim_id"], first["setting"], day,
            tuple(ClaimLine(r["code"], tuple(r["modifiers"] or ()), r["units"],
                            r["dos"] if r["dos"] != day else None, r["place_of_service"],
                            minutes=r.get("minutes")) for r in rows)))
    return out


def concat_chunks(chunks: Sequence[ClaimChunk]) -> ClaimChunk:
    if not chunks:
        return empty_chunk()
    return ClaimChunk(pl.concat([c.claims for c in chunks]).sort("claim"),
                      pl.concat([c.lines for c in chunks]).sort("claim", "line"))


# ------------------------------------------------------------------------------------- column-wise checks


def typed_dates(column: pl.Expr) -> pl.Expr:
    """Text dates in the forms `hcpcs.core.dates.read_date` accepts (YYYY-MM-DD, MM/DD/YYYY, M/D/YYYY,
    YYYYMMDD) as dates, column-wise; null where the text is none of them (the row-wise parser then says why)."""
    text = column.str.strip_chars()
    us = text.str.extract_groups(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
    us_iso = pl.concat_str([us.struct[2], pl.lit("-"), us.struct[0].str.zfill(2), pl.lit("-"), us.struct[1].str.zfill(2)])
    return pl.coalesce(
        pl.when(text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).then(text).str.to_date("%Y-%m-%d", strict=False),
        pl.when(text.str.contains(r"^[0-9]{8}$")).then(text).str.to_date("%Y%m%d", strict=False),
        us_iso.str.to_date("%Y-%m-%d", strict=False),
    )


def _blank(column: pl.Expr) -> pl.Expr:
    return column.is_null() | (column.str.strip_chars() == "")


def normal_code() -> pl.Expr:
    return pl.col("code").str.strip_chars().str.to_uppercase()


def _bad_place(frame: pl.DataFrame) -> pl.Expr:
    """A place of service that is not one or two digits."""
    if "place_of_service" not in frame.columns:
        return pl.lit(False)
    place = pl.col("place_of_service").str.strip_chars()
    return ~_blank(pl.col("place_of_service")) & ~place.str.contains(r"^[0-9]{1,2}$")


def suspect_claims(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.Series:
    """The positions (`claim`) of the claims whose values may be bad, from the raw text columns a reader
    produced: claims `claim`, `claim_id`, `setting`, `date_of_service` (and `lines_count`: null when the
    record has no line list); lines `claim`, `code`, `modifiers` (list of text), `units` (text or number),
    `date_of_service`. Cheap tests only: the row-wise parser decides about the claims named here."""
    setting = pl.col("setting").str.strip_chars().str.to_lowercase()
    bad_claims = claims.filter(
        _blank(pl.col("claim_id"))
        | pl.col("claim_id").is_in(["true", "false"])
        | (pl.col("setting").is_not_null() & ~(setting.is_in([*SETTINGS, "institutional", ""])))
        | (~_blank(pl.col("date_of_service")) & typed_dates(pl.col("date_of_service")).is_null())
        | pl.col("lines_count").is_null() | (pl.col("lines_count") == 0)
        | _bad_place(claims)
    )["claim"]
    units = pl.col("units").cast(pl.Float64, strict=False) if lines.schema["units"] != pl.Float64 else pl.col("units")
    modifier_ok = pl.col("modifiers").list.eval(
        pl.element().str.strip_chars().str.to_uppercase().str.strip_prefix("-").str.contains(MODIFIER_PATTERN)).list.all()
    line_date = pl.col("date_of_service").str.strip_chars()
    bad_lines = lines.filter(
        _blank(pl.col("code")) | ~normal_code().str.contains(CODE_PATTERN)
        | (pl.col("units").is_not_null() & (units.is_null() | units.is_nan() | (units <= 0) | (units > MAX_UNITS)
                                            | (units != units.floor())))
        | (pl.col("modifiers").is_not_null() & ~modifier_ok.fill_null(True))
        | (~_blank(pl.col("date_of_service")) & typed_dates(line_date).is_null())
        | _bad_place(lines)
    )["claim"]
    # A claim without a date needs every line to have one.
    undated = lines.join(claims.filter(_blank(pl.col("date_of_service"))).select("claim"), on="claim").filter(
        _blank(pl.col("date_of_service")))["claim"]
    return pl.concat([bad_claims, bad_lines, undated]).unique().sort()


def normalized_lines(claims: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """The line frame (`LINE_SCHEMA`) of claims that passed `suspect_claims`: values trimmed and upper-cased,
    units 1 when absent, the claim's setting and date where the line has none."""
    claim_values = claims.select(
        "claim", "claim_id",
        claim_setting=pl.col("setting").str.strip_chars().str.to_lowercase().replace(
            {"institutional": "facility", "": "professional"}).fill_null("professional"),
        claim_date=typed_dates(pl.col("date_of_service")),
        claim_place=pl.col("place_of_service") if "place_of_service" in claims.columns else pl.lit(None, pl.String))
    line_date = typed_dates(pl.col("date_of_service"))
    units = pl.col("units").cast(pl.Float64, strict=False) if lines.schema["units"] != pl.Float64 else pl.col("units")
    place = pl.col("place_of_service") if "place_of_service" in lines.columns else pl.lit(None, pl.String)
    out = lines.join(claim_values, on="claim", how="inner").select(
        "claim", "claim_id", setting="claim_setting", line="line", code=normal_code(),
        modifiers=pl.col("modifiers").list.eval(
            pl.element().str.strip_chars().str.to_uppercase().str.strip_prefix("-")).fill_null(pl.lit([], pl.List(pl.String))),
        units=units.fill_null(1.0), dos=pl.coalesce(line_date, "claim_date"),
        place_of_service=pl.coalesce(place, "claim_place").str.strip_chars().str.zfill(2),
        minutes=pl.lit(None, pl.Int64),
    )
    # A claim without a date of service takes the earliest of its lines' (they all have one: checked).
    missing = out.filter(pl.col("dos").is_null())
    if missing.height:
        raise AssertionError("normalized_lines: a line without a date passed the checks")
    return out.cast(LINE_SCHEMA)  # type: ignore[arg-type]
