"""The claim model checked by the edit engine. A claim is a set of service lines billed together by one
provider for one patient; each line has a code, modifiers, units and a date of service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

SETTINGS = ("professional", "facility")
# The most service lines one claim may hold, as the X12 implementation guides bound them: 50 on an 837P
# (professional, loop 2400), 999 on an 837I (institutional). A longer claim is refused whole.
MAX_LINES = {"professional": 50, "facility": 999}


@dataclass(frozen=True)
class ClaimLine:
    code: str
    modifiers: tuple[str, ...] = ()
    units: float = 1
    date_of_service: date | None = None  # None: the claim's date
    place_of_service: str | None = None
    diagnosis_pointers: tuple[str, ...] = ()
    charge: float | None = None
    # Anesthesia time in minutes (X12 SV103 `MJ`): such a line is one anesthesia service (`units` 1, what the
    # unit edits count); its minutes are kept as sent and never compared with a unit limit.
    minutes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "modifiers": list(self.modifiers), "units": self.units}
        if self.minutes is not None:
            out["minutes"] = self.minutes
        if self.date_of_service:
            out["date_of_service"] = self.date_of_service.isoformat()
        if self.place_of_service:
            out["place_of_service"] = self.place_of_service
        if self.charge is not None:
            out["charge"] = self.charge
        return out


@dataclass(frozen=True)
class Claim:
    id: str
    setting: str  # professional: physician fee schedule and practitioner NCCI; facility: OPPS, hospital NCCI
    date_of_service: date
    lines: tuple[ClaimLine, ...]
    place_of_service: str | None = None
    provider: str | None = None
    diagnosis_codes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def line_date(self, index: int) -> date:
        return self.lines[index].date_of_service or self.date_of_service

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "setting": self.setting, "date_of_service": self.date_of_service.isoformat(),
            "lines": [line.to_dict() for line in self.lines],
        }
        if self.place_of_service:
            out["place_of_service"] = self.place_of_service
        if self.provider:
            out["provider"] = self.provider
        if self.diagnosis_codes:
            out["diagnosis_codes"] = list(self.diagnosis_codes)
        return out


@dataclass(frozen=True)
class ClaimError:
    """A claim (or a record that should have been one) that could not be read: the rest are still checked."""

    claim_id: str | None
    location: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.claim_id, "error": {"location": self.location, "message": self.message}}
