"""Claim-check results written out, one module per format: each has `NAME`, `MEDIA_TYPE` and
`write(results, stream)` (the per-claim results of `hcpcs.services.checking`, in input order: a claim's
`{"id", "findings", "notices"?}` or a bad record's `{"id", "error", "findings": []}`). The command line and
the web app both pick a writer here by name; adding a format is adding a module."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from hcpcs.core.errors import InvalidInputError


@cache
def writers() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "write"):
            found[module.NAME] = module
    return found


def writer(name: str) -> ModuleType:
    """The output module of a format name; InvalidInputError naming the formats there are."""
    found = writers().get(name)
    if found is None:
        raise InvalidInputError(f"output format {name!r}: use one of {', '.join(sorted(writers()))}")
    return found
