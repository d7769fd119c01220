"""The `hub` command. Each subcommand is a thin edge over a pure module; errors a user can
cause end with exit status 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from hub import __version__, bench


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def _bench(args: argparse.Namespace) -> int:
    if args.name != "all" and args.name not in bench.BENCHES:
        raise UsageError(f"unknown benchmark {args.name!r}; known: all, {', '.join(bench.names())}")
    result = bench.run(args.name)
    print(json.dumps(result.as_json()) if args.json else result.as_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("bench", help="run the project's benchmarks")
    p.add_argument("name", help="benchmark name, or 'all'")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"hub {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
