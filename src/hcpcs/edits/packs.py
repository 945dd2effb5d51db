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

Optional on any rule: `setting` limits it to professional or facility claims.

Scope: `[pack]` may list the `codes` it is about (else the codes its rules name); a pack with `default =
true` (the built-in radiation-oncology IGRT pack) applies to every claim that carries one of them, unless the
user turns it off (`--no-policy NAME`); other packs apply when asked for (`--policy`). A pack's findings carry
its rule id, its citation and `source.dataset = "policy-pack"` (release: the pack id; row: the rule id).

Both engines check packs: `PolicyPack.check(ctx)` claim by claim, `pack_findings(ctx, pack, number)` as
columns; the messages are the pack's templates, written once in its TOML."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from hcpcs.core.errors import InvalidInputError
from hcpcs.edits import columnar as col
from hcpcs.edits.columnar import BatchContext
from hcpcs.edits.finding import Finding
from hcpcs.edits.rowwise import ClaimContext
from hcpcs.edits.spec import SEVERITIES, RuleSpec
from hcpcs.edits.templates import Template

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
    default: bool = False  # applies to every claim carrying one of its codes unless turned off
    declared_codes: frozenset[str] = frozenset()

    @property
    def scope(self) -> frozenset[str]:
        """The codes the pack is about: those it declares and those its rules govern (a rule finds nothing on
        a claim without one of its codes, so a claim without any of these has nothing to check)."""
        return self.declared_codes | frozenset(c for r in self.rules for c in r.codes)

    def applies_to(self, codes: Iterable[str]) -> bool:
        return not self.scope.isdisjoint(codes)

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
    return Template(template).text(**values)


def _finding(pack: PolicyPack, rule: PackRule, codes: tuple[str, ...], lines: tuple[int, ...], **values: Any) -> Finding:
    return Finding(
        rule=rule.id, severity=rule.severity, codes=codes, lines=lines,
        message=_text(rule.message, **values) or rule.id, fix=_text(rule.fix, **values),
        source=pack_source(pack, rule),
        citation=rule.citation,
    )


def pack_source(pack: PolicyPack, rule: PackRule) -> dict[str, Any]:
    return {"dataset": "policy-pack", "release": pack.id, "row": rule.id, "pack": pack.name, "file": pack.origin}


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
    pack = PolicyPack(head["id"], head.get("name", head["id"]), head.get("citation", ""), origin,
                      default=bool(head.get("default", False)),
                      declared_codes=frozenset(str(c).upper() for c in head.get("codes", ())))
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
        for key in ("message", "fix"):
            if raw.get(key) is not None:
                try:
                    Template(str(raw[key]))
                except ValueError as exc:
                    raise InvalidInputError(f"{where}: {key}: {exc}") from exc
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


def default_packs() -> list[PolicyPack]:
    """The built-in packs that apply by default to the claims carrying their codes."""
    return [pack for pack in (load_pack(stem) for stem in sorted(builtin_packs())) if pack.default]


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


# ------------------------------------------------------------------------------------------- a batch

PACK_RANK = 900  # pack findings come after the CMS rules' and before DATA_NOT_COVERED


def pack_findings(ctx: BatchContext, pack: PolicyPack, number: int) -> pl.DataFrame:
    """A pack's findings on a batch, in the order `PolicyPack.check` gives them claim by claim."""
    if not ctx.lines.height:
        return col.no_findings()
    scope = sorted(pack.scope)
    base = ctx.rows(["row", "claim", "line", "code", "code_id", "dos", "is_professional", "claim_day", "day_rank",
                     "modifiers"], pl.col("code_id").is_in(ctx.with_code_id(pl.DataFrame({"code": scope}), "code")[
                         "code_id"].implode()))
    if not base.height:
        return col.no_findings()
    days = ctx.lines.select("claim_day", "line", "code_id").with_columns(code=ctx.code_of())
    frames = []
    for index, rule in enumerate(pack.rules):
        hits = _EVALUATORS_BATCH[rule.kind](rule, base, days)
        if hits is None or not hits.height:
            continue
        frames.append(_pack_rule_findings(pack, rule, hits, number, index))
    return col.combine(frames)


def _in_force(rule: PackRule) -> pl.Expr:
    ok = pl.lit(True)
    if rule.start is not None:
        ok = ok & (pl.col("dos") >= rule.start)
    if rule.end is not None:
        ok = ok & (pl.col("dos") <= rule.end)
    return ok


def _setting(rule: PackRule) -> pl.Expr:
    if rule.setting is None:
        return pl.lit(True)
    return pl.col("is_professional") if rule.setting == "professional" else ~pl.col("is_professional")


def _billed_modifier() -> pl.Expr:
    """26 or TC when the line carries it (the row of the fee schedule billed), else "" (global)."""
    return (pl.when(pl.col("modifiers").list.contains("26")).then(pl.lit("26"))
            .when(pl.col("modifiers").list.contains("TC")).then(pl.lit("TC")).otherwise(pl.lit("")))


def _batch_bundled_into(rule: PackRule, base: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame | None:
    lines = base.filter(pl.col("code").is_in(sorted(rule.codes)) & _in_force(rule) & _setting(rule))
    lines = lines.with_columns(modifier=_billed_modifier())
    if rule.modifiers:
        lines = lines.filter(pl.col("modifier").is_in(list(rule.modifiers)))
    into = days.filter(pl.col("code").is_in(sorted(rule.into))).sort("claim_day", "line").group_by(
        "claim_day", maintain_order=True).agg(into_code=pl.col("code").first(), into_line=pl.col("line").first(),
                                              into_codes=pl.col("code").unique().sort().str.join(", "))
    hits = lines.join(into, on="claim_day")
    return hits.with_columns(codes=pl.concat_list("into_code", "code"), lines=pl.concat_list("into_line", "line"),
                             modifier_number=pl.lit(0))


def _batch_modifier_not_allowed(rule: PackRule, base: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame | None:
    lines = base.filter(pl.col("code").is_in(sorted(rule.codes)) & _in_force(rule) & _setting(rule))
    parts = []
    for position, modifier in enumerate(rule.modifiers):
        found = lines.filter(pl.col("modifiers").list.contains(modifier))
        parts.append(found.with_columns(modifier=pl.lit(modifier), modifier_number=pl.lit(position)))
    hits = col.concat(parts)
    return None if hits is None else hits.with_columns(codes=pl.concat_list("code"), lines=pl.concat_list("line"))


def _batch_requires_primary(rule: PackRule, base: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame | None:
    with_primary = days.filter(pl.col("code").is_in(list(rule.primaries)))["claim_day"].unique()
    lines = base.filter(pl.col("code").is_in(sorted(rule.codes)) & _in_force(rule) & _setting(rule)
                        & ~pl.col("claim_day").is_in(with_primary.implode()))
    return lines.with_columns(modifier=pl.lit(""), modifier_number=pl.lit(0), codes=pl.concat_list("code"),
                              lines=pl.concat_list("line"))


def _batch_not_payable_in_setting(rule: PackRule, base: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame | None:
    lines = base.filter(pl.col("code").is_in(sorted(rule.codes)) & _in_force(rule) & _setting(rule))
    return lines.with_columns(modifier=pl.lit(""), modifier_number=pl.lit(0), codes=pl.concat_list("code"),
                              lines=pl.concat_list("line"))


_EVALUATORS_BATCH = {
    "bundled-into": _batch_bundled_into,
    "modifier-not-allowed": _batch_modifier_not_allowed,
    "requires-primary": _batch_requires_primary,
    "not-payable-in-setting": _batch_not_payable_in_setting,
    "use-instead": _batch_not_payable_in_setting,
}


def _pack_rule_findings(pack: PolicyPack, rule: PackRule, hits: pl.DataFrame, number: int,
                        index: int) -> pl.DataFrame:
    values = _values(rule, "", "")
    modifier = pl.col("modifier")
    columns = {
        "code": pl.col("code"), "modifier": modifier,
        "modifier_text": pl.when(modifier != "").then(pl.lit("-") + modifier).otherwise(pl.lit("global")),
        "into": pl.col("into_codes") if "into_codes" in hits.columns else pl.lit(values["into"]),
        "instead": pl.lit(values["instead"]), "primaries": pl.lit(values["primaries"]),
    }

    def render(template: str | None) -> pl.Expr | None:
        if template is None:
            return None
        text = Template(template)
        return text.expr(**{name: columns[name] for name in text.names if name in columns})

    source = json.dumps(pack_source(pack, rule))
    fake = RuleSpec(id=rule.id, order=PACK_RANK + number, severity=rule.severity, summary=rule.kind)
    # Within a claim: the pack's rules in order; a bundled-into or requires-primary rule by day, the others
    # by line (as the claim-by-claim evaluators walk them).
    by_day = rule.kind in ("bundled-into", "requires-primary")
    order = ((pl.lit(index), pl.col("day_rank"), pl.col("line"), pl.col("modifier_number")) if by_day
             else (pl.lit(index), pl.col("line"), pl.col("modifier_number")))
    return col.findings(hits, fake, codes=pl.col("codes"), lines=pl.col("lines"),
                        message=render(rule.message) if rule.message else pl.lit(rule.id), fix=render(rule.fix),
                        dataset=pl.lit("policy-pack"), release=pl.lit(pack.id), extra=pl.lit(source),
                        citation=pl.lit(rule.citation), order=order)
