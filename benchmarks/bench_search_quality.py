"""Search quality: hits@5 of `hcpcs search` over the coder query set, and what `similar` returns.

    HCPCS_HOME=... python benchmarks/bench_search_quality.py [--misses] [--similar]

Reads tests/data/search_queries.toml: a query is a hit when one of its expected codes is among the first
five results (no --active-on). Prints hits@5 for each set (the file's header says how each set was
written and which are out-of-sample), the mean reciprocal rank of the first hit, and with --misses the
top five of each miss.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from hcpcs.services.search import search, similar
from hcpcs.store.session import Hcpcs

QUERIES = Path(__file__).resolve().parents[1] / "tests" / "data" / "search_queries.toml"


def first_hit(hc: Hcpcs, query: dict) -> tuple[int, list[str]]:
    """The 1-based rank of the first expected code in the top five (0: none), and the top five."""
    top = [r["code"] for r in search(query["text"], limit=5, hc=hc)["results"]]
    rank = next((i + 1 for i, code in enumerate(top) if code in query["expected"]), 0)
    return rank, top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="print the top five of every miss")
    parser.add_argument("--similar", action="store_true", help="print `similar` for the codes of the query set")
    parser.add_argument("--sets", default="", help="comma-separated query sets to run (default: all)")
    args = parser.parse_args()
    data = tomllib.loads(QUERIES.read_text(encoding="utf-8"))
    hc = Hcpcs()
    by_set: dict[str, list[int]] = {}
    wanted = set(filter(None, args.sets.split(",")))
    for query in (q for q in data["query"] if not wanted or q["set"] in wanted):
        rank, top = first_hit(hc, query)
        by_set.setdefault(query["set"], []).append(rank)
        if args.misses and not rank:
            print(f"  miss [{query['set']}] {query['text']!r}: {' '.join(top) or '(nothing)'}")
    for name, ranks in by_set.items():
        hits = sum(1 for r in ranks if r)
        mrr = sum(1 / r for r in ranks if r) / len(ranks)
        print(f"{name:6} hits@5 {hits}/{len(ranks)} ({100 * hits / len(ranks):.0f} %), MRR {mrr:.2f}")
    if args.similar:
        for case in data.get("similar", []):
            found = [s["code"] for s in similar(case["code"], limit=10, hc=hc)["similar"]]
            print(f"similar {case['code']}: {' '.join(found)}")


if __name__ == "__main__":
    main()
