"""Typed errors. Every error a user can trigger is one of these, with a message that names what is
wrong and where; the CLI and the API turn them into a clean message and an exit status or a problem
response, never a traceback."""

from __future__ import annotations

from datetime import date


class HcpcsError(Exception):
    """Base class of every error hcpcs raises on purpose."""


class SourceFormatError(HcpcsError):
    """A CMS file is not in the layout expected: names the file, the line or cell, and what was expected."""

    def __init__(self, file: str, location: str | None, problem: str) -> None:
        self.file = file
        self.location = location
        self.problem = problem
        where = f"{file}, {location}" if location else file
        super().__init__(f"{where}: {problem}")


class DataNotLoadedError(HcpcsError):
    """The store holds no release that can answer (run `hcpcs update`)."""


class NotCoveredError(HcpcsError):
    """No release of a dataset is in force on the date asked, and the dataset cannot answer by row dates:
    "no data", never "invalid". The message says which date was used, what the loaded releases cover and
    how to ask for another date; callers that word it themselves (the API, FHIR) read the attributes:
    `day` (the date used), `dataset`, and `newest` (`{"release", "effective_start", "effective_end"}` of
    the newest loaded release of the dataset), each None when not known; `summary` is the message
    without its advice, for the notices of an answer that goes on without that dataset."""

    def __init__(self, message: str, *, day: date | None = None, dataset: str | None = None,
                 newest: dict[str, str | None] | None = None, summary: str | None = None) -> None:
        super().__init__(message)
        self.day = day
        self.dataset = dataset
        self.newest = newest
        self.summary = summary or message  # what is not covered, without the advice (for notices)


class UnknownCodeError(HcpcsError):
    """The code is well formed but appears in no loaded release."""


class MalformedCodeError(HcpcsError):
    """The text given is not a HCPCS/CPT code or modifier."""


class InvalidInputError(HcpcsError):
    """A user argument (date, locality, modifier, option) is not acceptable."""


class ClaimInputError(HcpcsError):
    """A claim or claim file is malformed; names the claim, line or segment."""

    def __init__(self, message: str, *, claim_id: str | None = None, location: str | None = None) -> None:
        self.message = message
        self.claim_id = claim_id
        self.location = location
        parts = [p for p in (location, f"claim {claim_id}" if claim_id else None) if p]
        super().__init__(f"{', '.join(parts)}: {message}" if parts else message)


class CheckStoppedError(HcpcsError):
    """Claim checking was stopped before it finished (its caller's time budget was spent)."""


class ClaimFormatError(ClaimInputError):
    """The claim input cannot be read at all (empty, binary, not UTF-8, not JSON where JSON was expected, a
    CSV without its required columns, X12 without an envelope); no claim in it was checked."""


class ClaimLimitError(ClaimInputError):
    """The input holds more claims than the caller accepts in one request."""


class UpdateRefusedError(HcpcsError):
    """`hcpcs update` refused a release that would make the loaded data worse (a table without rows, a
    bundle missing tables the loaded release has, values CMS could not have published); names the file,
    row and value. Nothing was written; `--replace` loads it anyway."""


class StoreBusyError(HcpcsError):
    """Another update is writing to the store; nothing was written by this one."""
