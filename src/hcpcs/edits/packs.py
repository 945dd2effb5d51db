"""Policy packs: payer bundling and modifier policies written as data (TOML), checked beside the CMS
edits. A pack has `[pack]` (id, name, citation) and `[[rule]]` tables, each with an `id`, a `kind`, the
`codes` it governs, an `effective` period (`start`, optional `end`), a `severity`, a `message` and `fix`
(with `{code}`, `{modifier}`, `{modifier_text}`, `{into}`, `{instead}`, `{primaries}` placeholders) and a
`citation`. Kinds:

- `bundled-into`: a code (with any of `modifiers`; "" is the global service) is denied when any `into`
  code is billed on the same date of service.
- `modifier-not-allowed`: a code may not carry any of `modifiers`.
- `requires-primary`: a code needs one of `primaries` on the same date of service.
- `not-payable-in-setting`: a code is not paid in `setting` (professional or facility).
- `use-instead`: a code is not paid in `setting` during the period; `instead` lists what to report.

Optional on any rule: `setting` limits it to professional or facility claims."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from hcpcs.core.errors import InvalidInputError
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import SEVERITIES

KINDS = ("bundled-into", "modifier-not-allowed", "requires-primary", "not-payable-in-setting", "use-instead")


@dataclass(frozen=True)
class PackRule:
    id: str
    kind: str
    codes: frozenset[str]
    severity: str
    start: date | None
    end: date | None
    message: str
    fix: str | None
    citation: str
    setting: str | None = None
    modifiers: tuple[str, ...] = ()
    into: tuple[str, ...] = ()
    instead: tuple[str, ...] = ()
    primaries: tuple[str, ...] = ()

    def in_force(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass
class PolicyPack:
    id: str
    name: str
    citation: str
    origin: str
    rules: list[PackRule] = field(default_factory=list)

    def check(self, ctx: ClaimContext) -> Iterator[Finding]:
        for rule in self.rules:
            if rule.setting and rule.kind != "not-payable-in-setting" and rule.setting != ctx.setting:
                continue
            yield from _EVALUATORS[rule.kind](self, rule, ctx)

    def mentioning(self, code: str) -> list[PackRule]:
        return [r for r in self.rules if code in r.codes or code in r.into or code in r.instead]


def _text(template: str | None, **values: Any) -> str | None:
    if template is None:
        return None
    return template.format_map({k: v for k, v in values.items()})


def _finding(pack: PolicyPack, rule: PackRule, codes: tuple[str, ...], lines: tuple[int, ...], **values: Any) -> Finding:
    return Finding(
        rule=rule.id, severity=rule.severity, codes=codes, lines=lines,
        message=_text(rule.message, **values) or rule.id, fix=_text(rule.fix, **values),
        source={"dataset": "policy-pack", "release": pack.id, "row": rule.id, "pack": pack.name,
                "file": pack.origin},
        citation=rule.citation,
    )


def _values(rule: PackRule, code: str, modifier: str = "") -> dict[str, Any]:
    return {"code": code, "modifier": modifier, "modifier_text": f"-{modifier}" if modifier else "global",
            "into": ", ".join(rule.into), "instead": ", ".join(rule.instead),
            "primaries": ", ".join(rule.primaries[:10]) + (" ..." if len(rule.primaries) > 10 else "")}


def _line_modifier(modifiers: frozenset[str]) -> str:
    return "26" if "26" in modifiers else "TC" if "TC" in modifiers else ""


def _bundled_into(pack: PolicyPack, rule: PackRule, ctx: ClaimContext) -> Iterator[Finding]:
    for day, views in ctx.days().items():
        if not rule.in_force(day):
            continue
        into = [v for v in views if v.code in rule.into]
        if not into:
            continue
        for view in views:
            if view.code not in rule.codes:
                continue
            modifier = _line_modifier(view.modifiers)
            if rule.modifiers and modifier not in rule.modifiers:
                continue
            values = _values(rule, view.code, modifier)
            values["into"] = ", ".join(sorted({v.code for v in into}))
            yield _finding(pack, rule, (into[0].code, view.code), (into[0].index, view.index), **values)


def _modifier_not_allowed(pack: PolicyPack, rule: PackRule, ctx: ClaimContext) -> Iterator[Finding]:
    for view in ctx.lines:
        if view.code in rule.codes and rule.in_force(view.day):
            for modifier in rule.modifiers:
                if modifier in view.modifiers:
                    yield _finding(pack, rule, (view.code,), (view.index,), **_values(rule, view.code, modifier))


def _requires_primary(pack: PolicyPack, rule: PackRule, ctx: ClaimContext) -> Iterator[Finding]:
    for day, views in ctx.days().items():
        if not rule.in_force(day):
            continue
        codes = {v.code for v in views}
        if codes & set(rule.primaries):
            continue
        for view in views:
            if view.code in rule.codes:
                yield _finding(pack, rule, (view.code,), (view.index,), **_values(rule, view.code))


def _not_payable_in_setting(pack: PolicyPack, rule: PackRule, ctx: ClaimContext) -> Iterator[Finding]:
    if rule.setting and rule.setting != ctx.setting:
        return
    for view in ctx.lines:
        if view.code in rule.codes and rule.in_force(view.day):
            yield _finding(pack, rule, (view.code,), (view.index,), **_values(rule, view.code))


_EVALUATORS = {
    "bundled-into": _bundled_into,
    "modifier-not-allowed": _modifier_not_allowed,
    "requires-primary": _requires_primary,
    "not-payable-in-setting": _not_payable_in_setting,
    "use-instead": _not_payable_in_setting,
}


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"{where}: {value!r} is not a date YYYY-MM-DD") from exc


def parse_pack(text: str, origin: str) -> PolicyPack:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"policy pack {origin}: not valid TOML ({exc})") from exc
    head = data.get("pack") or {}
    if "id" not in head:
        raise InvalidInputError(f"policy pack {origin}: [pack] needs an id")
    pack = PolicyPack(head["id"], head.get("name", head["id"]), head.get("citation", ""), origin)
    seen: set[str] = set()
    for number, raw in enumerate(data.get("rule", []), start=1):
        where = f"policy pack {origin}, rule {number} ({raw.get('id', 'no id')})"
        for key in ("id", "kind", "codes"):
            if key not in raw:
                raise InvalidInputError(f"{where}: missing '{key}'")
        if raw["kind"] not in KINDS:
            raise InvalidInputError(f"{where}: kind {raw['kind']!r} is not one of {', '.join(KINDS)}")
        if raw["id"] in seen:
            raise InvalidInputError(f"{where}: duplicate rule id")
        seen.add(raw["id"])
        severity = raw.get("severity", "error")
        if severity not in SEVERITIES:
            raise InvalidInputError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        setting = raw.get("setting")
        if setting not in (None, "professional", "facility"):
            raise InvalidInputError(f"{where}: setting must be professional or facility")
        needs = {"bundled-into": "into", "use-instead": "instead", "requires-primary": "primaries",
                 "modifier-not-allowed": "modifiers"}.get(raw["kind"])
        if needs and not raw.get(needs):
            raise InvalidInputError(f"{where}: kind {raw['kind']} needs '{needs}'")
        period = raw.get("effective") or {}
        pack.rules.append(PackRule(
            id=raw["id"], kind=raw["kind"], codes=frozenset(c.upper() for c in raw["codes"]), severity=severity,
            start=_date(period.get("start"), where), end=_date(period.get("end"), where),
            message=raw.get("message", raw["id"]), fix=raw.get("fix"),
            citation=raw.get("citation", pack.citation), setting=setting,
            modifiers=tuple(str(m).upper() for m in raw.get("modifiers", ())),
            into=tuple(c.upper() for c in raw.get("into", ())),
            instead=tuple(c.upper() for c in raw.get("instead", ())),
            primaries=tuple(c.upper() for c in raw.get("primaries", ())),
        ))
    return pack


def builtin_packs() -> dict[str, str]:
    folder = resources.files("hcpcs.edits") / "packs"
    return {p.name[:-5]: p.name for p in folder.iterdir() if p.name.endswith(".toml")}


def load_pack(name_or_path: str) -> PolicyPack:
    """A built-in pack by name (e.g. `radiation_oncology_igrt` or its id `radonc-igrt`) or a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return parse_pack(path.read_text(encoding="utf-8"), str(path))
    folder = resources.files("hcpcs.edits") / "packs"
    for stem, filename in builtin_packs().items():
        text = (folder / filename).read_text(encoding="utf-8")
        pack = parse_pack(text, filename)
        if name_or_path in (stem, pack.id):
            return pack
    raise InvalidInputError(
        f"policy pack {name_or_path!r} is neither a TOML file nor a built-in pack "
        f"({', '.join(builtin_packs())})"
    )
