"""The ``theranomics`` command.  Each subcommand lives in its own module with
``add_parser(subparsers)`` and ``run(args) -> int``; commands only parse arguments
and call the library."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__

#: Subcommand modules (theranomics.cli.<name>), in the order shown by --help.
COMMANDS = ("simulate", "info", "suv", "quantify", "response", "radiomics", "dosimetry", "plan", "model", "cohort", "demo")


class CliError(Exception):
    """An error a user can act on: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="theranomics", description="Radiotheranostics toolkit.")
    parser.add_argument("--version", action="version", version=f"theranomics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"theranomics.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    for noisy in ("numexpr", "numexpr.utils", "matplotlib", "PIL", "distributed", "highdicom"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"theranomics {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
