"""CMS code definitions kept as data: one TOML file per indicator in `indicators/data/`, each with the
CMS document it was written from. `meaning("mpfs_status", "A")` gives the words for a value.

File format::

    name = "Physician fee schedule status code"
    source = "RVU25D.pdf, Attachment A, STATUS CODE"
    [values]
    A = "Active code. Paid separately under the physician fee schedule..."
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    source: str
    values: dict[str, str]
    extra: dict[str, Any]

    def meaning(self, value: str | None) -> str | None:
        if value is None:
            return None
        value = str(value).strip()
        if value == "":
            return None
        return self.values.get(value) or self.values.get(value.upper())

    def decode(self, value: str | None) -> dict[str, str | None] | None:
        """The `{"code": ..., "meaning": ...}` form used by every JSON contract."""
        if value is None or str(value).strip() == "":
            return None
        value = str(value).strip()
        return {"code": value, "meaning": self.meaning(value)}


@cache
def indicator(key: str) -> Indicator:
    path = resources.files("hcpcs.core.indicators") / "data" / f"{key}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KeyError(f"no indicator table named {key!r}") from exc
    values = {str(k): str(v) for k, v in data.pop("values", {}).items()}
    return Indicator(
        key=key, name=data.pop("name", key), source=data.pop("source", ""), values=values, extra=data
    )


def meaning(key: str, value: str | None) -> str | None:
    return indicator(key).meaning(value)


def decode(key: str, value: str | None) -> dict[str, str | None] | None:
    return indicator(key).decode(value)


def available() -> list[str]:
    folder = resources.files("hcpcs.core.indicators") / "data"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def pctc_allows(pctc: str | None, modifier: str) -> bool | None:
    """Whether modifier 26 or TC may be billed with a code, from its PC/TC indicator (RVU file,
    Attachment A). None when the indicator is missing."""
    if not pctc:
        return None
    table = indicator("mpfs_pctc").extra
    key = "modifier_26_allowed" if modifier == "26" else "modifier_tc_allowed"
    value = table.get(key, {}).get(str(pctc))
    return bool(value) if value is not None else None
