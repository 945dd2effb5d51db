"""What a code is, from its shape alone: HCPCS Level II, CPT (Level I), or a modifier."""

from __future__ import annotations

import re

from hcpcs.core.errors import MalformedCodeError

_LEVEL2 = re.compile(r"^[A-Z][0-9]{4}$")
_CPT = re.compile(r"^[0-9]{4}[0-9AFMTU]$")  # A vaccine administration, F, M, T, U
_MODIFIER = re.compile(r"^[0-9A-Z]{2}$")

AMA_NOTICE = (
    "CPT codes and descriptors are copyright American Medical Association. hcpcs shows a CPT descriptor "
    "only where your own imported CMS files carry it; it ships none."
)


def normalize(code: str) -> str:
    """Upper-case, trimmed; raises MalformedCodeError for anything that is not a code or modifier."""
    text = (code or "").strip().upper()
    if text.startswith("-") and len(text) == 3:
        text = text[1:]
    if not (_LEVEL2.match(text) or _CPT.match(text) or _MODIFIER.match(text)):
        raise MalformedCodeError(
            f"{code!r} is not a HCPCS code (a letter and four digits, e.g. G6002), a CPT code (five "
            "characters, e.g. 77385 or 0001U) or a two-character modifier (e.g. TC, 26)"
        )
    return text


_WITH_MODIFIER = re.compile(r"^\s*([0-9A-Za-z]{5})(?:\s*-\s*|\s+)([0-9A-Za-z]{2})\s*$")


def split_modifier(text: str) -> tuple[str, str | None]:
    """A code as coders write it with its modifier, `G6002-26` or `G6002 26`: (code, modifier), both
    normalized; anything else: (text, None), for `normalize` to judge."""
    match = _WITH_MODIFIER.match(text or "")
    if not match:
        return text, None
    code, modifier = normalize(match.group(1)), normalize(match.group(2))
    if kind_of(code) == "modifier" or kind_of(modifier) != "modifier":
        return text, None
    return code, modifier


def code_and_modifier(code: str, modifier: str | None) -> tuple[str, str | None]:
    """The code (normalized) and modifier of an answer asked for as `code` (possibly `G6002-26`) and
    `modifier` (an option); MalformedCodeError when both name a modifier and they differ."""
    bare, written = split_modifier(code)
    given = (modifier or "").strip().upper().lstrip("-") or None
    if written and given and written != given:
        raise MalformedCodeError(f"{code!r} names modifier {written} but modifier {given} was asked for too")
    return normalize(bare), written or given


def kind_of(code: str) -> str:
    if _MODIFIER.match(code):
        return "modifier"
    if _LEVEL2.match(code):
        return "level2"
    return "cpt"
