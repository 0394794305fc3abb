"""The command line of a generated documentation page: render it, print it or write it to --output."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def write_page(render: Callable[[], str], description: str, argv: list[str] | None = None) -> None:
    """`python -m <generator> [--output FILE]`: the page on stdout, or written to FILE (folders made)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--output", type=Path, default=None, help="File to write; stdout without it.")
    args = parser.parse_args(argv)
    text = render()
    if args.output is None:
        print(text, end="")
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(args.output)
