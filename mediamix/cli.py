"""The ``mediamix`` command line: thin wrappers over the package's functions.

Each sub-command lives in one ``_cmd_*`` function registered in :func:`build_parser`. Bad input
(a :class:`~mediamix.errors.MediamixError`) prints ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mediamix.errors import MediamixError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def _cmd_generate(args: argparse.Namespace) -> int:
    from mediamix.generator import Generator

    result = Generator.from_config_file(args.config).generate(seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    result.data.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    tmp.replace(out)  # a failed write never leaves a half-written file under the real name
    print(f"wrote {len(result.data)} rows x {result.data.shape[1]} columns to {out}")
    if args.truth:
        result.truth.write_json(args.truth)
        print(f"wrote ground truth to {args.truth}")
    for name, roas in result.truth.roas.items():
        print(f"  true ROAS {name:<12} {roas:8.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="mediamix", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate synthetic MMM data with known truth")
    gen.add_argument("--config", required=True, help="generator YAML config")
    gen.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    gen.add_argument("--out", required=True, help="CSV file to write")
    gen.add_argument("--truth", default=None, help="JSON file for the ground truth")
    gen.set_defaults(handler=_cmd_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except MediamixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
