"""`hcpcs diff A B`: what changed between two releases of one dataset: codes added, discontinued, removed
and changed, with counts."""

from __future__ import annotations

from typing import Any

from hcpcs.core.errors import InvalidInputError
from hcpcs.services.reference import HCPCS_FIELDS, MPFS_FIELDS, field_changes
from hcpcs.store import queries
from hcpcs.store.releases import Release
from hcpcs.store.session import Hcpcs

_FIELDS = {"hcpcs": HCPCS_FIELDS, "mpfs": MPFS_FIELDS}


def _release(hc: Hcpcs, label: str) -> Release:
    matches = [r for r in hc.releases if r.label.lower() == label.lower()]
    if not matches:
        known = ", ".join(r.label for r in hc.releases if r.dataset in _FIELDS)
        raise InvalidInputError(f"no loaded release is labelled {label!r}; loaded: {known}")
    return matches[0]


def diff(label_a: str, label_b: str, *, code_range: str | None = None, hc: Hcpcs | None = None) -> dict[str, Any]:
    from hcpcs.store.session import default

    hc = hc or default()
    a, b = _release(hc, label_a), _release(hc, label_b)
    if a.dataset != b.dataset:
        raise InvalidInputError(f"{a.label} ({a.dataset}) and {b.label} ({b.dataset}) are different datasets")
    if a.dataset not in _FIELDS:
        raise InvalidInputError(f"diff covers HCPCS and fee-schedule releases, not {a.dataset}")
    fields = _FIELDS[a.dataset]
    low = high = None
    if code_range:
        parts = [p.strip().upper() for p in code_range.split("-")]
        if len(parts) != 2:
            raise InvalidInputError(f"--range {code_range!r}: give FIRST-LAST, e.g. G6001-G6017")
        low, high = parts
    old = queries.diff_rows(hc.store.conn, a.dataset, a.id, low, high)
    new = queries.diff_rows(hc.store.conn, b.dataset, b.id, low, high)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    discontinued, changed = [], []
    for code in sorted(set(old) & set(new)):
        changes = field_changes(old[code], new[code], fields)
        if not changes:
            continue
        if a.dataset == "hcpcs" and new[code]["termination_date"] and not old[code]["termination_date"]:
            discontinued.append({"code": code, "termination_date": new[code]["termination_date"],
                                 "action": new[code]["action_code"]})
        else:
            changed.append({"code": code, "changes": changes})
    return {
        "dataset": a.dataset, "from": a.label, "to": b.label, "range": code_range,
        "counts": {"added": len(added), "discontinued": len(discontinued), "removed": len(removed),
                   "changed": len(changed)},
        "added": added, "discontinued": discontinued, "removed": removed, "changed": changed,
    }
