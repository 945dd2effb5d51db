"""Message and fix texts written once and rendered by both engines: `Template("{code} is ...")` gives the
text of one finding (`text(code="77373")`) and the polars expression that writes it for every row of a
frame (`expr(code=pl.col("code"))`). Placeholders are `{name}` (no format specs: values are formatted
before they are passed, the same way for both engines)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import polars as pl


class Template:
    __slots__ = ("names", "source", "_pattern")

    def __init__(self, source: str) -> None:
        self.source = source
        literal: list[str] = []
        names: list[str] = []
        for text, name, spec, conversion in string.Formatter().parse(source):
            if spec or conversion:
                raise ValueError(f"template {source!r}: format {name} before passing it ({spec or conversion})")
            literal.append(text.replace("{", "{{").replace("}", "}}"))
            if name is not None:
                if not name.isidentifier():
                    raise ValueError(f"template {source!r}: placeholder {{{name}}} is not a name")
                names.append(name)
                literal.append("{}")
        self.names = tuple(names)
        self._pattern = "".join(literal)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def text(self, **values: Any) -> str:
        """The text with each placeholder replaced by its value (as `str()` writes it; None as empty text,
        as `expr` writes nulls)."""
        return self.source.format_map(_Strict({k: "" if v is None else v for k, v in values.items()}, self))

    def expr(self, **columns: pl.Expr | str) -> pl.Expr:
        """The expression writing this text for every row: each placeholder from an expression or a column
        name (a name that is not given is read from the column of that name). Nulls read as empty text."""
        exprs = []
        for name in self.names:
            value = columns.get(name, name)
            column = pl.col(value) if isinstance(value, str) else value
            exprs.append(column.cast(pl.String).fill_null(""))
        if not exprs:
            return pl.lit(self.source.replace("{{", "{").replace("}}", "}"), pl.String)
        return pl.format(self._pattern, *exprs)


class _Strict(dict):
    """format_map values that name the template when a placeholder was not given."""

    def __init__(self, values: Mapping[str, Any], template: Template) -> None:
        super().__init__(values)
        self.template = template

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"{self.template!r} needs a value for {{{key}}}")
