"""`spark-submit` entry: check a claim file or folder on the cluster spark-submit names and write
findings/, notices/ and errors/ (Parquet) under OUTPUT_DIR.

    spark-submit --master spark://HOST:7077 "$(python -c 'import hcpcs.spark.submit as m; print(m.__file__)')" \\
        INPUT OUTPUT_DIR --store /shared/hcpcs [--ship-store] [--input-format parquet|jsonl] [--as-of DATE]

Exit status as `hcpcs check`: 0 no claim has an error finding, 1 some have, 2 some record could not be
read or the run failed."""

from __future__ import annotations

import argparse
import json
import sys

from hcpcs.core.errors import HcpcsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", help="Parquet claim lines or JSON Lines: a file or a folder of files")
    parser.add_argument("output", help="the folder that receives findings/, notices/ and errors/")
    parser.add_argument("--store", help="the store folder (holding hcpcs.sqlite) as the nodes see it "
                                        "(default: $HCPCS_HOME)")
    parser.add_argument("--ship-store", action="store_true", help="copy the store to every node (addFile)")
    parser.add_argument("--input-format", choices=["parquet", "jsonl"])
    parser.add_argument("--as-of")
    parser.add_argument("--policy", action="append", default=[])
    parser.add_argument("--no-policy", action="append", default=[])
    args = parser.parse_args(argv)
    from hcpcs import spark as hcpcs_spark

    try:
        summary = hcpcs_spark.check_file(args.input, args.output, input_format=args.input_format, as_of=args.as_of,
                                         policy=args.policy, no_policy=args.no_policy, store=args.store,
                                         ship_store=args.ship_store)
    except HcpcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    if summary["bad_records"]:
        return 2
    return 1 if summary["claims_with_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
