"""The one list of claim edit rules: every module of `hcpcs.edits.rules` that declares a `SPEC`, in the
order of `SPEC.order` (the order their findings are listed in). A rule module has `SPEC` (a
`hcpcs.edits.spec.RuleSpec`), `check(ctx)` (one claim: `hcpcs.edits.rowwise.ClaimContext` -> findings) and
`check_batch(ctx)` (a batch: `hcpcs.edits.columnar.BatchContext` -> a findings frame). Adding a rule is
adding a module there (and its case file in tests/rules/)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

from hcpcs.edits import rules as rules_package
from hcpcs.edits.spec import RuleSpec


@cache
def rules() -> tuple[ModuleType, ...]:
    found = []
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, RuleSpec):
            for needed in ("check", "check_batch"):
                if not callable(getattr(module, needed, None)):
                    raise TypeError(f"rule module {module.__name__} has no {needed}()")
            found.append(module)
    found.sort(key=lambda module: module.SPEC.order)
    orders = [module.SPEC.order for module in found]
    ids = [module.SPEC.id for module in found]
    if len(set(orders)) != len(orders) or len(set(ids)) != len(ids):
        raise ValueError(f"rule modules share an order or an id: {list(zip(ids, orders, strict=True))}")
    return tuple(found)


@cache
def specs() -> dict[str, RuleSpec]:
    """Every rule's spec by id, in listing order."""
    return {module.SPEC.id: module.SPEC for module in rules()}


def spec(rule_id: str) -> RuleSpec | None:
    return specs().get(rule_id)
