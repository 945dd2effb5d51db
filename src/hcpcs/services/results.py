"""The JSON contracts of the README as types: what `lookup`, `fee` and claim checking return. They are
plain dicts at run time (the JSON the CLI prints and the API sends), typed here so that code and the
OpenAPI document can say what each key holds. Fields may be added, never renamed or removed."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from hcpcs.core.guidance import ReportInstead
from hcpcs.services.lookup_verdict import LookupVerdict
from hcpcs.services.verdicts import Verdict


class Coded(TypedDict):
    """A coded value and its meaning from CMS's definitions (`hcpcs.core.indicators`)."""

    code: str
    meaning: str | None


class SourceRef(TypedDict):
    """Which part of an answer came from which release and files."""

    what: str
    dataset: str
    release: str
    files: list[str]


class AscGroup(TypedDict):
    code: str
    effective_date: str | None


class ProcessingNote(TypedDict):
    number: str
    text: str | None


class MpfsRow(TypedDict):
    """One row of the fee schedule (global, 26 or TC)."""

    modifier: str | None
    status: Coded | None
    work_rvu: float | None
    nonfacility_pe_rvu: float | None
    facility_pe_rvu: float | None
    mp_rvu: float | None
    nonfacility_total: float | None
    facility_total: float | None
    na_indicator: dict[str, Coded | None]
    source_line: int | None


class MpfsSection(TypedDict, total=False):
    release: str
    in_file: bool
    status: Coded | None
    pctc: Coded | None
    global_days: Coded | None
    work_rvu: float | None
    multiple_procedure: Coded | None
    bilateral: Coded | None
    assistant_surgery: Coded | None
    co_surgery: Coded | None
    team_surgery: Coded | None
    physician_supervision: Coded | None
    diagnostic_imaging_family: Coded | None
    pricing_indicator: Coded | None  # PRIC IND (2026 on): 1 QPP row, 9 the concept does not apply
    endoscopic_base: str | None
    conversion_factor: float | None
    modifier_26_allowed: bool | None
    modifier_tc_allowed: bool | None
    opps_cap_values: dict[str, float | None]
    by_modifier: dict[str, MpfsRow]


class OppsSection(TypedDict, total=False):
    release: str
    in_file: bool
    status_indicator: Coded | None
    apc: str | None
    relative_weight: float | None
    payment_rate: float | None
    national_unadjusted_copayment: float | None
    minimum_unadjusted_copayment: float | None
    source_line: int | None


class MueEntry(TypedDict):
    units: int
    mai: Coded | None
    rationale: str | None
    release: str
    source_line: int | None


class AddonSection(TypedDict):
    release: str
    is_addon: bool
    edit_type: Coded | list[Coded] | None
    primary_codes: list[str]
    addons_of_this_primary: list[str]


class PtpPair(TypedDict):
    column1: str
    column2: str
    modifier_indicator: Coded | None
    effective_date: str | None
    deletion_date: str | None
    rationale: str | None


class PtpEntry(TypedDict):
    release: str
    as_column1: int
    as_column2: int
    first_as_column1: list[PtpPair]
    first_as_column2: list[PtpPair]


class LookupResult(TypedDict, total=False):
    """`hcpcs lookup CODE --json`."""

    code: str
    kind: str  # level2 | cpt | modifier
    as_of: str
    modifier: Coded  # asked as CODE-MODIFIER (G6002-26): the modifier and its meaning
    short_description: str | None
    long_description: str | None
    descriptor_source: str | None
    valid_on_date: bool | None
    validity: str
    added_date: str | None
    action_effective_date: str | None
    termination_date: str | None
    action: Coded | None
    hcpcs_release: str
    pricing_indicators: list[Coded]
    multiple_pricing_indicator: Coded | None
    coverage: Coded | None
    betos: Coded | None
    type_of_service: list[Coded]
    cim_references: list[str]
    mcm_references: list[str]
    statute: str | None
    lab_certifications: list[Coded]
    cross_references: list[str]
    asc_group: AscGroup | None
    processing_note: ProcessingNote | None
    anesthesia_base_units: int | None
    source_line: int | None
    mpfs: MpfsSection | None
    opps: OppsSection | None
    mue: dict[str, MueEntry | None]
    addon: AddonSection | None
    ptp: dict[str, PtpEntry | None]
    notices: list[str]
    sources: list[SourceRef]
    verdict: LookupVerdict  # for the setting asked (professional by default)
    verdicts: dict[str, LookupVerdict]  # professional and facility
    report_instead: list[ReportInstead]  # cited guidance in force on the date; [] when none is known


class LocalityRef(TypedDict):
    id: str
    mac: str | None
    locality_number: str | None
    name: str
    state: str | None


class FeeSource(TypedDict):
    dataset: str
    release: str
    row: int | None
    files: list[str]


class FeeCell(TypedDict):
    """One setting of one row of the fee grid, as CMS's physician fee schedule look-up tool shows it."""

    amount: float | None  # participating; null where not payable or NA
    nonparticipating_amount: float | None  # 95 % of the amount
    limiting_charge: float | None  # 115 % of the non-participating amount
    payable: bool
    na: bool
    na_reason: str | None
    opps_cap_applied: bool
    verdict: Verdict


class FeeGridRow(TypedDict):
    modifier: str | None  # null: the global service
    status: Coded | None
    nonfacility: FeeCell
    facility: FeeCell
    source_line: int | None


class FeeGrid(TypedDict):
    """`grid` of `hcpcs fee CODE --json` without --modifier: global / 26 / TC x non-facility / facility."""

    locality: LocalityRef
    release: str
    conversion_factor: float | None
    conversion_factor_basis: Coded
    rows: list[FeeGridRow]
    limiting_charge_note: str  # which services the limiting charge does not apply to (CMS's rule)


class FeeResult(TypedDict):
    """`hcpcs fee CODE --json`."""

    code: str
    modifier: str | None
    locality: LocalityRef
    setting: str  # nonfacility | facility
    as_of: str
    release: str
    status: Coded
    conversion_factor: float | None
    conversion_factor_basis: Coded  # nonqp | qp (CY 2026 on) | all: which factor priced the answer
    qp: bool  # asked for a qualifying APM participant
    rvus: dict[str, float | None]
    gpci: dict[str, float]
    opps_cap_applied: bool
    opps_cap_amount: float | None
    amount: float | None  # null when not payable, and where the NA indicator applies
    nonparticipating_amount: float | None
    limiting_charge: float | None
    payable: bool
    na: bool  # the RVU file marks this setting NA
    na_reason: str | None
    reason: str | None
    formula: str | None
    notices: list[str]
    source: FeeSource
    verdict: Verdict
    grid: NotRequired[FeeGrid]


class FindingSource(TypedDict, total=False):
    """Where a finding's rule came from: the dataset, release and row (plus the rule's own fields, such as
    `edit`, `modifier_indicator`, `mue`, `mai`, `pctc`, `status`)."""

    dataset: str
    release: str | None
    row: int | str | None
    files: list[str]


class FindingResult(TypedDict):
    rule: str
    severity: str  # error | warning | info
    codes: list[str]
    lines: list[int]  # the claim's lines it concerns, counted from 1 (as the CSV, the table and people count them)
    message: str  # one sentence: the code, what is wrong, what follows
    details: str | None  # the CMS definitions and the release behind the message
    fix: str | None
    source: FindingSource | None
    citation: NotRequired[str]


class ClaimErrorDetail(TypedDict):
    location: str
    message: str


class ClaimResult(TypedDict):
    """One claim's answer in `hcpcs check --format json` (a bad record carries `error` instead)."""

    id: str | None
    findings: list[FindingResult]
    notices: NotRequired[list[str]]
    error: NotRequired[ClaimErrorDetail]


JSONObject = dict[str, Any]
