"""Store schema. The data tables are described once, in `hcpcs.core.tables`; a new database is created
from those specs (`create_statements`) at the newest schema version. A database records its schema
version in `PRAGMA user_version`; opening an older one applies the missing migrations in order (each
migration takes the schema of version N to N + 1). Never edit a migration that has shipped: add a new
one, and change the table spec to match (a test builds a store both ways and compares them).

Conventions: every data table has `release_id` (the release the row came from); dates are ISO text
(`YYYY-MM-DD`) or NULL; coded values are kept exactly as CMS wrote them (meanings live in
`hcpcs.core.indicators`); multi-valued HCPCS fields are comma-joined in file order."""

from __future__ import annotations

from hcpcs.core.tables import TABLE_SPECS, TableSpec

_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL", "date": "TEXT"}

RELEASE_TABLE = """
CREATE TABLE release (
    id INTEGER PRIMARY KEY,
    dataset TEXT NOT NULL,            -- hcpcs, mpfs, opps, ncci_aoc, ncci_ptp_practitioner, ...
    label TEXT NOT NULL,              -- e.g. 'HCPCS 2026 Jan', 'RVU25D'
    effective_start TEXT NOT NULL,
    effective_end TEXT,               -- NULL: until a later release of the dataset
    row_dates INTEGER NOT NULL,       -- 1: rows carry their own dates, so the table may answer
                                      --    (with a notice) for dates outside the release period
    source_files TEXT NOT NULL,       -- JSON [{name, origin, sha256, bytes, kind}]
    content_sha256 TEXT NOT NULL,     -- identity of the content: reloading it changes nothing
    row_counts TEXT NOT NULL,         -- JSON {table: rows}
    meta TEXT NOT NULL,               -- JSON: conversion factor, title, notices...
    loaded_at TEXT NOT NULL,
    UNIQUE (dataset, label)
)"""

SEARCH_TABLES = """
-- Every distinct descriptor text of every code across releases, and a full-text index over it.
CREATE TABLE descriptor (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (code, text)
);
CREATE VIRTUAL TABLE descriptor_fts USING fts5 (
    text, content = 'descriptor', content_rowid = 'id', tokenize = 'porter unicode61'
)"""


def table_statement(spec: TableSpec) -> str:
    """CREATE TABLE of a data table: `release_id`, then the spec's columns."""
    columns = ["release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE"]
    columns += [f"{c.name} {_SQL_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in spec.columns]
    return f"CREATE TABLE {spec.name} (\n    " + ",\n    ".join(columns) + "\n)"


def index_statements(spec: TableSpec) -> dict[str, str]:
    return {name: f"CREATE INDEX {name} ON {spec.name} ({', '.join(columns)})"
            for name, columns in spec.indexes.items()}


def create_statements() -> list[str]:
    """The whole schema of a new store, at the newest version."""
    statements = [RELEASE_TABLE]
    for spec in TABLE_SPECS:
        statements.append(table_statement(spec))
        statements.extend(index_statements(spec).values())
    statements.extend(s for s in SEARCH_TABLES.split(";") if s.strip())
    return statements


# Tables that receive millions of rows in one update: the loader drops their indexes before a bulk insert
# and builds them again afterwards (a sort-based build is about twice as fast as keeping them up to date
# row by row).
BULK_INDEXES: dict[str, dict[str, str]] = {spec.name: index_statements(spec) for spec in TABLE_SPECS if spec.bulk}
BULK_ROWS = 200_000

# Migrations from version N to N + 1 (N = the list position). The first created the version-1 schema
# in full; it is kept as shipped so that a test can check that the specs still describe every store.

MIGRATIONS: list[str] = [
    # 1: releases and every data table
    """
    CREATE TABLE release (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,            -- hcpcs, mpfs, opps, ncci_aoc, ncci_ptp_practitioner, ...
        label TEXT NOT NULL,              -- e.g. 'HCPCS 2026 Jan', 'RVU25D'
        effective_start TEXT NOT NULL,
        effective_end TEXT,               -- NULL: until a later release of the dataset
        row_dates INTEGER NOT NULL,       -- 1: rows carry their own dates, so the table may answer
                                          --    (with a notice) for dates outside the release period
        source_files TEXT NOT NULL,       -- JSON [{name, origin, sha256, bytes}]
        content_sha256 TEXT NOT NULL,     -- identity of the content: reloading it changes nothing
        row_counts TEXT NOT NULL,         -- JSON {table: rows}
        meta TEXT NOT NULL,               -- JSON: conversion factor, title, notices...
        loaded_at TEXT NOT NULL,
        UNIQUE (dataset, label)
    );
    CREATE TABLE hcpcs_code (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        code TEXT NOT NULL, record_kind TEXT NOT NULL, sequence TEXT,
        long_description TEXT, short_description TEXT,
        pricing_indicators TEXT, multiple_pricing_indicator TEXT, cim_references TEXT,
        mcm_references TEXT, statute TEXT, lab_certifications TEXT, cross_references TEXT,
        coverage TEXT, asc_group TEXT, asc_effective_date TEXT, mog_group TEXT,
        mog_policy_indicator TEXT, mog_effective_date TEXT, processing_note TEXT, betos TEXT,
        type_of_service TEXT, anesthesia_base_units TEXT, added_date TEXT,
        action_effective_date TEXT, termination_date TEXT, action_code TEXT, source_line INTEGER
    );
    CREATE INDEX hcpcs_code_by_code ON hcpcs_code (code, release_id);
    CREATE INDEX hcpcs_code_by_release ON hcpcs_code (release_id, code);
    CREATE TABLE hcpcs_note (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        note_number TEXT NOT NULL, text TEXT NOT NULL
    );
    CREATE INDEX hcpcs_note_by_number ON hcpcs_note (release_id, note_number);
    CREATE TABLE mpfs_rvu (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, description TEXT, status TEXT,
        not_used_for_medicare TEXT, work_rvu REAL, nonfac_pe_rvu REAL, nonfac_na TEXT,
        fac_pe_rvu REAL, fac_na TEXT, mp_rvu REAL, nonfac_total REAL, fac_total REAL, pctc TEXT,
        global_days TEXT, preop REAL, intraop REAL, postop REAL, mult_proc TEXT, bilat_surg TEXT,
        asst_surg TEXT, co_surg TEXT, team_surg TEXT, endo_base TEXT, conv_factor REAL,
        phys_supervision TEXT, calculation_flag TEXT, diag_imaging_family TEXT,
        nonfac_pe_opps REAL, fac_pe_opps REAL, mp_opps REAL, source_line INTEGER
    );
    CREATE INDEX mpfs_rvu_by_code ON mpfs_rvu (hcpcs, release_id, modifier);
    CREATE TABLE mpfs_gpci (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        mac TEXT NOT NULL, state TEXT, locality_number TEXT NOT NULL, locality_name TEXT,
        pw_gpci REAL, pe_gpci REAL, mp_gpci REAL, source_line INTEGER
    );
    CREATE INDEX mpfs_gpci_by_locality ON mpfs_gpci (release_id, mac, locality_number);
    CREATE TABLE mpfs_locality_county (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        mac TEXT NOT NULL, locality_number TEXT NOT NULL, state TEXT, fee_schedule_area TEXT,
        counties TEXT, source_line INTEGER
    );
    CREATE TABLE mpfs_anes_cf (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        mac TEXT NOT NULL, locality_number TEXT NOT NULL, locality_name TEXT, anes_cf REAL,
        source_line INTEGER
    );
    CREATE TABLE mpfs_opps_cap (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, procstat TEXT, mac TEXT NOT NULL,
        locality_number TEXT NOT NULL, fac_price REAL, nonfac_price REAL, source_line INTEGER
    );
    CREATE INDEX mpfs_opps_cap_by_code ON mpfs_opps_cap (hcpcs, release_id, modifier);
    CREATE TABLE opps_addendum_b (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        hcpcs TEXT NOT NULL, short_description TEXT, status_indicator TEXT, apc TEXT,
        relative_weight REAL, payment_rate REAL, national_copay REAL, minimum_copay REAL,
        note TEXT, passthrough_expiration TEXT, changed TEXT, source_line INTEGER
    );
    CREATE INDEX opps_addendum_b_by_code ON opps_addendum_b (hcpcs, release_id);
    CREATE TABLE ncci_aoc (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        edit_type TEXT NOT NULL, addon_code TEXT NOT NULL, addon_deletion_date TEXT,
        primary_code TEXT NOT NULL, primary_deletion_date TEXT, effective_date TEXT,
        deletion_date TEXT, notes TEXT, source_line INTEGER
    );
    CREATE INDEX ncci_aoc_by_addon ON ncci_aoc (addon_code, release_id);
    CREATE INDEX ncci_aoc_by_primary ON ncci_aoc (primary_code, release_id);
    CREATE TABLE ncci_ptp (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        column1 TEXT NOT NULL, column2 TEXT NOT NULL, prior_1996 INTEGER,  -- NULL: not recorded
        effective_date TEXT, deletion_date TEXT, modifier_indicator TEXT NOT NULL, rationale TEXT,
        source_line INTEGER
    );
    CREATE INDEX ncci_ptp_by_col1 ON ncci_ptp (column1, release_id);
    CREATE INDEX ncci_ptp_by_col2 ON ncci_ptp (column2, release_id);
    CREATE TABLE ncci_mue (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        code TEXT NOT NULL, units INTEGER NOT NULL, mai TEXT, rationale TEXT, source_line INTEGER
    );
    CREATE INDEX ncci_mue_by_code ON ncci_mue (code, release_id);
    -- Every distinct descriptor text of every code across releases, and a full-text index over it.
    CREATE TABLE descriptor (
        id INTEGER PRIMARY KEY, code TEXT NOT NULL, text TEXT NOT NULL, UNIQUE (code, text)
    );
    CREATE VIRTUAL TABLE descriptor_fts USING fts5 (
        text, content = 'descriptor', content_rowid = 'id', tokenize = 'porter unicode61'
    );
    """,
    # 2: the PRIC IND column of the 2026 PPRRVU (after TEAM SURG, as in the file), and the rows of the
    #    2026 QPP file (qualifying APM participants) in a table of their own
    """
    CREATE TABLE mpfs_rvu_v2 (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, description TEXT, status TEXT,
        not_used_for_medicare TEXT, work_rvu REAL, nonfac_pe_rvu REAL, nonfac_na TEXT,
        fac_pe_rvu REAL, fac_na TEXT, mp_rvu REAL, nonfac_total REAL, fac_total REAL, pctc TEXT,
        global_days TEXT, preop REAL, intraop REAL, postop REAL, mult_proc TEXT, bilat_surg TEXT,
        asst_surg TEXT, co_surg TEXT, team_surg TEXT, pricing_indicator TEXT, endo_base TEXT,
        conv_factor REAL, phys_supervision TEXT, calculation_flag TEXT, diag_imaging_family TEXT,
        nonfac_pe_opps REAL, fac_pe_opps REAL, mp_opps REAL, source_line INTEGER
    );
    INSERT INTO mpfs_rvu_v2 (
        release_id, hcpcs, modifier, description, status, not_used_for_medicare, work_rvu, nonfac_pe_rvu,
        nonfac_na, fac_pe_rvu, fac_na, mp_rvu, nonfac_total, fac_total, pctc, global_days, preop, intraop,
        postop, mult_proc, bilat_surg, asst_surg, co_surg, team_surg, endo_base, conv_factor,
        phys_supervision, calculation_flag, diag_imaging_family, nonfac_pe_opps, fac_pe_opps, mp_opps,
        source_line)
    SELECT
        release_id, hcpcs, modifier, description, status, not_used_for_medicare, work_rvu, nonfac_pe_rvu,
        nonfac_na, fac_pe_rvu, fac_na, mp_rvu, nonfac_total, fac_total, pctc, global_days, preop, intraop,
        postop, mult_proc, bilat_surg, asst_surg, co_surg, team_surg, endo_base, conv_factor,
        phys_supervision, calculation_flag, diag_imaging_family, nonfac_pe_opps, fac_pe_opps, mp_opps,
        source_line
    FROM mpfs_rvu;
    DROP TABLE mpfs_rvu;
    ALTER TABLE mpfs_rvu_v2 RENAME TO mpfs_rvu;
    CREATE INDEX mpfs_rvu_by_code ON mpfs_rvu (hcpcs, release_id, modifier);
    CREATE TABLE mpfs_rvu_qp (
        release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
        hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, description TEXT, status TEXT,
        not_used_for_medicare TEXT, work_rvu REAL, nonfac_pe_rvu REAL, nonfac_na TEXT,
        fac_pe_rvu REAL, fac_na TEXT, mp_rvu REAL, nonfac_total REAL, fac_total REAL, pctc TEXT,
        global_days TEXT, preop REAL, intraop REAL, postop REAL, mult_proc TEXT, bilat_surg TEXT,
        asst_surg TEXT, co_surg TEXT, team_surg TEXT, pricing_indicator TEXT, endo_base TEXT,
        conv_factor REAL, phys_supervision TEXT, calculation_flag TEXT, diag_imaging_family TEXT,
        nonfac_pe_opps REAL, fac_pe_opps REAL, mp_opps REAL, source_line INTEGER
    );
    CREATE INDEX mpfs_rvu_qp_by_code ON mpfs_rvu_qp (hcpcs, release_id, modifier);
    """,
]
