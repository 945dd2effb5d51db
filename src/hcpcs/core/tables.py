"""The one description of every store table and dataset.

Each `TableSpec` names a table's columns and their types, the key of a row within a release, its code
column, its indexes, the CMS file kinds that fill it, the columns the batch rules read and the bounds of
what CMS can publish in them (an update with values outside is refused). Everything
else is derived from it: the SQL schema (`hcpcs.store.schema`), the rows the parsers produce
(`hcpcs.sources`: one tuple per row, in `column_names` order), the columnar cache and the rules' frames
(`hcpcs.store.cache`). A `DatasetSpec` says which tables one release of a dataset fills.

Adding a CMS dataset: a `TableSpec` here (and a migration in `hcpcs.store.schema` for existing stores),
a parser module in `hcpcs.sources`, and its file names in `hcpcs.sources.discover`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "integer", "real", "date"]


@dataclass(frozen=True)
class Column:
    """One column. `date` columns hold ISO text (`YYYY-MM-DD`) in SQLite and dates in frames; `category`
    marks text with few distinct values (categorical in frames)."""

    name: str
    type: ColumnType = "text"
    required: bool = False
    category: bool = False
    comment: str | None = None


def _columns(spec: str, **types: ColumnType) -> tuple[Column, ...]:
    """Columns from a space-separated list of names: `name!` is NOT NULL, `name~` categorical; types are
    text unless named in `types`."""
    out = []
    for word in spec.split():
        name = word.rstrip("!~")
        out.append(Column(name, types.get(name, "text"), required="!" in word, category="~" in word))
    return tuple(out)


@dataclass(frozen=True)
class Bound:
    """The values a column can hold in a CMS file: numbers (or ISO dates) from `low` to `high`
    inclusive, or one of `values`; `why` says what CMS publishes, for the refusal message."""

    low: float | str | None = None
    high: float | str | None = None
    values: frozenset[str] | None = None
    why: str = ""

    def allows(self, value: object) -> bool:
        if value is None or value == "":
            return True
        if self.values is not None:
            return str(value) in self.values
        if self.low is not None and value < self.low:  # type: ignore[operator]
            return False
        return self.high is None or value <= self.high  # type: ignore[operator]


_NOT_NEGATIVE = Bound(0.0, None, why="RVUs are never negative")
_SINCE_1980 = Bound("1980-01-01", None, why="CMS files carry no dates before 1980")


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    code_column: str | None = None
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    file_kinds: tuple[str, ...] = ()  # the `hcpcs.sources.discover` kinds of the files that fill it
    frame_columns: tuple[str, ...] = ()  # what the batch rules read (the columnar cache holds these)
    bulk: bool = False  # receives millions of rows in one update: indexes are built after the insert
    # What CMS could publish in a column: an update whose rows fall outside is refused (`hcpcs update`
    # names the file, row and value) unless the user asks to load it anyway.
    bounds: dict[str, Bound] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The columns of a parsed row, in order (the store adds `release_id` in front)."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def date_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == "date")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    tables: tuple[str, ...]  # the tables a release of the dataset fills (its main table first)


_RVU_COLUMNS = (
    "hcpcs! modifier! description status not_used_for_medicare work_rvu nonfac_pe_rvu nonfac_na "
    "fac_pe_rvu fac_na mp_rvu nonfac_total fac_total pctc global_days preop intraop postop mult_proc "
    "bilat_surg asst_surg co_surg team_surg pricing_indicator endo_base conv_factor phys_supervision "
    "calculation_flag diag_imaging_family nonfac_pe_opps fac_pe_opps mp_opps source_line")
_RVU_NUMBERS = {name: "real" for name in (
    "work_rvu", "nonfac_pe_rvu", "fac_pe_rvu", "mp_rvu", "nonfac_total", "fac_total", "preop", "intraop",
    "postop", "conv_factor", "nonfac_pe_opps", "fac_pe_opps", "mp_opps")}

_RVU_BOUNDS = {
    **{name: _NOT_NEGATIVE for name in ("work_rvu", "nonfac_pe_rvu", "fac_pe_rvu", "mp_rvu", "nonfac_total",
                                        "fac_total", "nonfac_pe_opps", "fac_pe_opps", "mp_opps")},
    "conv_factor": Bound(1.0, 1000.0, why="a fee-schedule conversion factor is a few tens of dollars"),
}
_GPCI = Bound(0.1, 5.0, why="GPCIs lie between 0.1 and 5 (the 2026 malpractice GPCIs run from 0.296 to 2.529)")
_PRICE = Bound(0.0, None, why="payment amounts are never negative")

TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "hcpcs_code", "HCPCS Level II procedure and modifier records",
        _columns(
            "code! record_kind! sequence long_description short_description pricing_indicators "
            "multiple_pricing_indicator cim_references mcm_references statute lab_certifications "
            "cross_references coverage asc_group asc_effective_date mog_group mog_policy_indicator "
            "mog_effective_date processing_note betos type_of_service anesthesia_base_units added_date "
            "action_effective_date termination_date action_code source_line",
            asc_effective_date="date", mog_effective_date="date", added_date="date",
            action_effective_date="date", termination_date="date", source_line="integer"),
        key=("code", "record_kind"), code_column="code",
        bounds={name: _SINCE_1980 for name in ("asc_effective_date", "mog_effective_date", "added_date",
                                               "action_effective_date", "termination_date")},
        indexes={"hcpcs_code_by_code": ("code", "release_id"), "hcpcs_code_by_release": ("release_id", "code")},
        file_kinds=("hcpcs_anweb",),
        frame_columns=("code", "record_kind", "added_date", "termination_date", "action_code", "source_line"),
    ),
    TableSpec(
        "hcpcs_note", "HCPCS processing notes",
        _columns("note_number! text!"), key=("note_number",),
        indexes={"hcpcs_note_by_number": ("release_id", "note_number")}, file_kinds=("hcpcs_notes",),
    ),
    TableSpec(
        "mpfs_rvu", "Physician fee schedule RVUs and indicators (PPRRVU; from 2026 the non-QPP file)",
        _columns(_RVU_COLUMNS, source_line="integer", **_RVU_NUMBERS),
        key=("hcpcs", "modifier"), code_column="hcpcs",
        indexes={"mpfs_rvu_by_code": ("hcpcs", "release_id", "modifier")}, file_kinds=("pprrvu",),
        frame_columns=("hcpcs", "modifier", "status", "pctc", "source_line"),
        bounds=_RVU_BOUNDS,
    ),
    TableSpec(
        # From CY 2026 CMS publishes a second PPRRVU file for qualifying APM participants (QPs), at their
        # own conversion factor; a release loaded with both files keeps the QPP rows here.
        "mpfs_rvu_qp", "Physician fee schedule RVUs for qualifying APM participants (PPRRVU QPP file, 2026 on)",
        _columns(_RVU_COLUMNS, source_line="integer", **_RVU_NUMBERS),
        key=("hcpcs", "modifier"), code_column="hcpcs",
        indexes={"mpfs_rvu_qp_by_code": ("hcpcs", "release_id", "modifier")}, file_kinds=("pprrvu_qpp",),
        bounds=_RVU_BOUNDS,
    ),
    TableSpec(
        "mpfs_gpci", "Geographic practice cost indices (GPCI, Addendum E)",
        _columns("mac! state locality_number! locality_name pw_gpci pe_gpci mp_gpci source_line",
                 pw_gpci="real", pe_gpci="real", mp_gpci="real", source_line="integer"),
        key=("mac", "locality_number"),
        indexes={"mpfs_gpci_by_locality": ("release_id", "mac", "locality_number")}, file_kinds=("gpci",),
        bounds={"pw_gpci": _GPCI, "pe_gpci": _GPCI, "mp_gpci": _GPCI},
    ),
    TableSpec(
        "mpfs_locality_county", "Counties of each fee-schedule locality (LOCCO)",
        _columns("mac! locality_number! state fee_schedule_area counties source_line", source_line="integer"),
        key=("mac", "locality_number"), file_kinds=("locco",),
    ),
    TableSpec(
        "mpfs_anes_cf", "Anesthesia conversion factors by locality",
        _columns("mac! locality_number! locality_name anes_cf source_line", anes_cf="real", source_line="integer"),
        key=("mac", "locality_number"), file_kinds=("anes",),
        bounds={"anes_cf": Bound(1.0, 1000.0, why="an anesthesia conversion factor is a few tens of dollars")},
    ),
    TableSpec(
        "mpfs_opps_cap", "OPPS payment cap of imaging services by locality (OPPSCAP)",
        _columns("hcpcs! modifier! procstat mac! locality_number! fac_price nonfac_price source_line",
                 fac_price="real", nonfac_price="real", source_line="integer"),
        key=("hcpcs", "modifier", "mac", "locality_number"), code_column="hcpcs",
        indexes={"mpfs_opps_cap_by_code": ("hcpcs", "release_id", "modifier")}, file_kinds=("oppscap",),
        bounds={"fac_price": _PRICE, "nonfac_price": _PRICE},
    ),
    TableSpec(
        "opps_addendum_b", "Hospital outpatient payment (OPPS Addendum B)",
        _columns(
            "hcpcs! short_description status_indicator apc relative_weight payment_rate national_copay "
            "minimum_copay note passthrough_expiration changed source_line",
            relative_weight="real", payment_rate="real", national_copay="real", minimum_copay="real",
            source_line="integer"),
        key=("hcpcs",), code_column="hcpcs",
        indexes={"opps_addendum_b_by_code": ("hcpcs", "release_id")}, file_kinds=("addendum_b",),
        frame_columns=("hcpcs", "status_indicator", "source_line"),
        bounds={name: _PRICE for name in ("relative_weight", "payment_rate", "national_copay", "minimum_copay")},
    ),
    TableSpec(
        "ncci_aoc", "NCCI add-on code edits",
        _columns(
            "edit_type! addon_code! addon_deletion_date primary_code! primary_deletion_date effective_date "
            "deletion_date notes source_line",
            addon_deletion_date="date", primary_deletion_date="date", effective_date="date",
            deletion_date="date", source_line="integer"),
        key=("addon_code", "primary_code"), code_column="addon_code",
        indexes={"ncci_aoc_by_addon": ("addon_code", "release_id"),
                 "ncci_aoc_by_primary": ("primary_code", "release_id")},
        file_kinds=("aoc", "edit_table"),
        frame_columns=("addon_code", "primary_code", "edit_type", "effective_date", "deletion_date",
                       "primary_deletion_date", "source_line"),
        bounds={name: _SINCE_1980 for name in ("addon_deletion_date", "primary_deletion_date", "effective_date",
                                               "deletion_date")},
    ),
    TableSpec(
        "ncci_ptp", "NCCI procedure-to-procedure edits",
        (*_columns("column1! column2! prior_1996", prior_1996="integer"),
         *_columns("effective_date deletion_date modifier_indicator!~ rationale~ source_line",
                   effective_date="date", deletion_date="date", source_line="integer")),
        key=("column1", "column2", "effective_date"), code_column="column1",
        indexes={"ncci_ptp_by_col1": ("column1", "release_id"), "ncci_ptp_by_col2": ("column2", "release_id")},
        file_kinds=("ptp", "edit_table"),
        frame_columns=("column1", "column2", "effective_date", "deletion_date", "modifier_indicator", "rationale",
                       "source_line"),
        bulk=True,
        bounds={"modifier_indicator": Bound(values=frozenset({"0", "1", "9"}),
                                            why="PTP modifier indicators are 0, 1 or 9"),
                "effective_date": _SINCE_1980, "deletion_date": _SINCE_1980},
    ),
    TableSpec(
        "ncci_mue", "Medically unlikely edits",
        _columns("code! units! mai rationale source_line", units="integer", source_line="integer"),
        key=("code",), code_column="code",
        indexes={"ncci_mue_by_code": ("code", "release_id")}, file_kinds=("mue", "edit_table"),
        frame_columns=("code", "units", "mai", "source_line"),
        bounds={"units": Bound(0, 999_999, why="MUE values are whole numbers of units up to 999,999")},
    ),
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in TABLE_SPECS}

DATASET_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec("hcpcs", "HCPCS Level II alpha-numeric file", ("hcpcs_code", "hcpcs_note")),
    DatasetSpec("mpfs", "Medicare physician fee schedule RVU bundle",
                ("mpfs_rvu", "mpfs_rvu_qp", "mpfs_gpci", "mpfs_locality_county", "mpfs_anes_cf", "mpfs_opps_cap")),
    DatasetSpec("opps", "OPPS Addendum B", ("opps_addendum_b",)),
    DatasetSpec("ncci_aoc", "NCCI add-on code edits", ("ncci_aoc",)),
    DatasetSpec("ncci_ptp_practitioner", "NCCI procedure-to-procedure edits, practitioner", ("ncci_ptp",)),
    DatasetSpec("ncci_ptp_hospital", "NCCI procedure-to-procedure edits, outpatient hospital", ("ncci_ptp",)),
    DatasetSpec("ncci_mue_practitioner", "Medically unlikely edits, practitioner", ("ncci_mue",)),
    DatasetSpec("ncci_mue_hospital", "Medically unlikely edits, outpatient hospital", ("ncci_mue",)),
    DatasetSpec("ncci_mue_dme", "Medically unlikely edits, DME supplier", ("ncci_mue",)),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in DATASET_SPECS}


def dataset_title(name: str) -> str:
    spec = DATASETS.get(name)
    return spec.title if spec else name
