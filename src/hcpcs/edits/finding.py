"""What a rule reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    codes: tuple[str, ...]
    lines: tuple[int, ...]
    message: str
    fix: str | None = None
    source: dict[str, Any] | None = None
    citation: str | None = None
    details: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule, "severity": self.severity, "codes": list(self.codes),
            "lines": [index + 1 for index in self.lines],  # 1-based, as on the claim form
            "message": self.message, "details": self.details,
            "fix": self.fix, "source": self.source,
        }
        if self.citation:
            out["citation"] = self.citation
        return out


@dataclass
class ClaimResult:
    id: str
    findings: list[Finding] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def has_error(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        from hcpcs.edits.verdict import claim_verdict

        out: dict[str, Any] = {"id": self.id, "findings": [f.to_dict() for f in self.findings]}
        if self.notices:
            out["notices"] = self.notices
        out["verdict"] = claim_verdict(self.findings)
        return out
