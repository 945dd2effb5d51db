"""hcpcs: the official HCPCS/CPT code reference and the Medicare billing rules, from CMS release files."""

import os

__version__ = "0.1.0"

# polars' allocator (jemalloc) hands freed memory back to the operating system within seconds, so the batch
# checker, which allocates and frees a few hundred MB per chunk of claims, page-faulted the same memory in
# again on every chunk: about a fifth of its time went to the kernel. Freed pages are kept for a minute
# instead (an idle process still returns them). This takes effect only when hcpcs is imported before polars
# and the user has not configured jemalloc (`_RJEM_MALLOC_CONF`) themselves.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:60000,muzzy_decay_ms:60000")
