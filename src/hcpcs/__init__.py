"""hcpcs: the official HCPCS/CPT code reference and the Medicare billing rules, from CMS release files."""

import os

__version__ = "0.1.0"

# polars' allocator (jemalloc) hands freed memory back to the operating system within seconds, so the batch
# checker, which allocates and frees a few hundred MB per chunk of claims, page-faulted the same memory in
# again on every chunk: about a fifth of its time went to the kernel. Freed pages are kept for a minute
# instead (an idle process still returns them). This takes effect only when hcpcs is imported before polars
# and the user has not configured jemalloc (`_RJEM_MALLOC_CONF`) themselves.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:60000,muzzy_decay_ms:60000")

# The library's front door, imported on first use (so that `import hcpcs` stays cheap):
# hcpcs.lookup, hcpcs.fee, hcpcs.check, hcpcs.Hcpcs.
_API = {
    "lookup": ("hcpcs.services.reference", "lookup"),
    "history": ("hcpcs.services.reference", "history"),
    "fee": ("hcpcs.services.fees", "fee"),
    "search": ("hcpcs.services.search", "search"),
    "check": ("hcpcs.services.checking", "check"),
    "Hcpcs": ("hcpcs.services", "Hcpcs"),
}


def __getattr__(name: str) -> object:
    if name in _API:
        import importlib

        module, attribute = _API[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'hcpcs' has no attribute {name!r}")
