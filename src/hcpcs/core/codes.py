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


def kind_of(code: str) -> str:
    if _MODIFIER.match(code):
        return "modifier"
    if _LEVEL2.match(code):
        return "level2"
    return "cpt"
