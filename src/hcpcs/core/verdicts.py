"""The three-way (four with "unknown") verdict every lookup, fee and claim answer carries, so that a
coder can act on the headline: `{"code": ..., "meaning": ...}` with `code` one of

- `payable`: valid on the date and paid under the schedule that applies (a carrier-priced code, status C,
  is payable with its amount set by the Medicare contractor, and its meaning says so);
- `not_payable`: a valid code that Medicare does not pay this way (fee-schedule statuses I, N, B, X, P, E,
  M..., an NA setting, OPPS packaged...), the meaning giving CMS's reason;
- `invalid`: not a code on that date (unknown, not yet added, terminated);
- `unknown`: no loaded release can answer (the meaning names the dataset and the date).

The CLI card, the web banner (green / amber / red / grey: `COLOURS`), the JSON and FHIR use the same
verdict."""

from __future__ import annotations

from typing import Literal, TypedDict

VerdictCode = Literal["payable", "not_payable", "invalid", "unknown"]
VERDICT_CODES: tuple[VerdictCode, ...] = ("payable", "not_payable", "invalid", "unknown")
COLOURS: dict[VerdictCode, str] = {"payable": "green", "not_payable": "amber", "invalid": "red", "unknown": "grey"}
LABELS: dict[VerdictCode, str] = {"payable": "Payable", "not_payable": "Not payable", "invalid": "Invalid",
                                  "unknown": "Unknown"}


class Verdict(TypedDict):
    code: VerdictCode
    meaning: str


def verdict(code: VerdictCode, meaning: str) -> Verdict:
    if code not in VERDICT_CODES:
        raise ValueError(f"verdict {code!r} is not one of {', '.join(VERDICT_CODES)}")
    return {"code": code, "meaning": meaning}
