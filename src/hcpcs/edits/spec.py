"""What a claim edit rule declares about itself (`RuleSpec`), and where a finding's source row came
from (`source`), shared by the single-claim and the batch engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hcpcs.core.tables import TABLES
from hcpcs.edits.templates import Template
from hcpcs.store.releases import Release

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class RuleSpec:
    """One rule: its stable id, where its findings are listed (`order`), its severity (a rule whose
    severity depends on the case lists the ones it may give in `severities`), the datasets it reads and
    the store table its findings' source rows come from, and its texts: `messages` and `fixes` by case."""

    id: str
    order: int
    severity: str
    summary: str
    datasets: tuple[str, ...] = ()
    table: str | None = None
    messages: dict[str, Template] = field(default_factory=dict)  # one sentence: the code, what is wrong, what follows
    fixes: dict[str, Template] = field(default_factory=dict)
    details: dict[str, Template] = field(default_factory=dict)  # the CMS definitions and release behind it
    severities: tuple[str, ...] = ()
    last: bool = False  # runs after the other rules and the policy packs (it reports what they could not check)
    screen: bool = False  # runs first; a claim it reports is not checked by the others

    def __post_init__(self) -> None:
        for severity in (self.severity, *self.severities):
            if severity not in SEVERITIES:
                raise ValueError(f"rule {self.id}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.table is not None and self.table not in TABLES:
            raise ValueError(f"rule {self.id}: no store table {self.table!r}")

    def message(self, case: str = "default") -> Template:
        return self.messages[case]

    def fix(self, case: str = "default") -> Template | None:
        return self.fixes.get(case)

    def detail(self, case: str = "default") -> Template | None:
        return self.details.get(case)


def templates(**texts: str) -> dict[str, Template]:
    return {case: Template(text) for case, text in texts.items()}


_FILES: dict[tuple[int, str, str | None], list[str]] = {}


def source_files(release: Release, table: str | None) -> list[str]:
    """The names of a release's files that fill `table` (all its files when none does, or no table)."""
    key = (release.id, release.content_sha256, table)
    if key not in _FILES:
        kinds = TABLES[table].file_kinds if table else ()
        _FILES[key] = sorted({f["name"] for f in release.source_files if f.get("kind") in kinds}) or sorted(
            {f["name"] for f in release.source_files})
    return _FILES[key]


def source(release: Release, row: int | None, table: str | None, **extra: Any) -> dict[str, Any]:
    """The `source` of a finding: dataset, release, row and files, then the rule's own fields."""
    out = {"dataset": release.dataset, "release": release.label, "row": row, "files": list(source_files(release, table))}
    out.update(extra)
    return out
