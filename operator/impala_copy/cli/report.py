"""What the CLI shows: a live progress line, the run summary as a table or JSON, the demo's overview.

Everything printed that came from a manifest or a server (names, paths, values, messages) goes
through `escape`: control characters (ESC, CSI, OSC, BEL, backspace, carriage return, C1, the
Unicode controls that reorder or hide text) are shown as `\\uXXXX`, and text reaches rich only as
`Text`, so `[bold]` or `x[/]` print literally and never as markup.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from impala_copy.api.summary import RunSummary
from impala_copy.engine.pipeline import Progress, ProgressCallback

MAX_PATHS_SHOWN = 5

# C0 and C1 controls but the line break, DEL, zero-width and direction marks, line and paragraph
# separators, bidi embeddings and isolates, the byte order mark.
_CONTROLS = r"\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(rf"[\n{_CONTROLS}]")
_UNSAFE_BUT_NEWLINE = re.compile(rf"[{_CONTROLS}]")


def escape(text: object, *, newlines: bool = False) -> str:
    """`text` safe for a terminal: each unsafe character as `\\uXXXX` (also valid inside a JSON string).

    With `newlines`, line breaks stay (multi-line output whose lines were built from escaped parts,
    or JSON, where a line break can only be layout).
    """
    pattern = _UNSAFE_BUT_NEWLINE if newlines else _UNSAFE
    return pattern.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def plain(text: object, style: str = "") -> Text:
    """Escaped text as rich `Text`: printed as written, never read as markup."""
    return Text(escape(text), style=style)


def say(console: Console, text: object, *, newlines: bool = False) -> None:
    """Print one escaped line (or block, with `newlines`) as written."""
    console.print(Text(escape(text, newlines=newlines)), highlight=False)


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def progress_text(label: str, p: Progress) -> Text:
    return Text.assemble(
        (escape(label), "bold"),
        f"  {p.rows_written:,} rows  ·  {p.rows_per_second:,.0f} rows/s",
        f"  ·  {human_bytes(p.data_read)} read  ·  {p.elapsed_seconds:.1f} s",
    )


@contextmanager
def live_progress(console: Console, label: str) -> Iterator[ProgressCallback | None]:
    """A progress callback that redraws one line on a terminal (at most 8 times a second); None elsewhere."""
    if not console.is_terminal:
        yield None
        return
    with Live(
        plain(f"{label}  connecting..."), console=console, transient=True, refresh_per_second=8
    ) as live:
        last = 0.0

        def update(p: Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= 0.125:
                last = now
                live.update(progress_text(label, p))

        yield update


def summary_table(summary: RunSummary, title: str | None = None) -> Table:
    table = Table(title=plain(title) if title else None, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    status_style = "green" if summary.succeeded else "red"
    table.add_row("status", plain(summary.status, status_style))
    table.add_row("rowsRead", f"{summary.rows_read:,}")
    table.add_row("rowsCopied", f"{summary.rows_copied:,}")
    if summary.rows_skipped:
        table.add_row("rowsSkipped", f"{summary.rows_skipped:,}")
    table.add_row("dataRead", human_bytes(summary.data_read))
    table.add_row("dataWritten", human_bytes(summary.data_written))
    table.add_row("filesWritten", str(summary.files_written))
    table.add_row("copyDuration", f"{summary.copy_duration:.2f} s")
    table.add_row("throughput", f"{summary.throughput:,.0f} rows/s")
    if summary.consistency_verified is not None:
        table.add_row("consistencyVerified", str(summary.consistency_verified).lower())
    if summary.watermark is not None:
        table.add_row("watermark", plain(summary.watermark))
    if summary.partitions:
        table.add_row("partitions", partition_counts(summary))
    paths = summary.output_paths
    if paths:
        shown = "\n".join(escape(path) for path in paths[:MAX_PATHS_SHOWN])
        if len(paths) > MAX_PATHS_SHOWN:
            shown += f"\n... and {len(paths) - MAX_PATHS_SHOWN} more"
        table.add_row("outputPaths", Text(shown))
    for error in summary.errors:
        table.add_row("error", plain(f"{error.code}: {error.message}", "red"))
    return table


def partition_counts(summary: RunSummary) -> str:
    """A partitioned run's counts in one line, e.g. `8 listed, 1,100 to 1,400 rows copied each`."""
    copied = [p.rows_copied for p in summary.partitions]
    return f"{len(copied)} listed, {min(copied):,} to {max(copied):,} rows copied each"


def summary_json(summary: RunSummary) -> str:
    return escape(json.dumps(summary.to_wire(), indent=2, ensure_ascii=False), newlines=True)


def overview_table(rows: Sequence[tuple[str, RunSummary]], title: str) -> Table:
    """One line per activity: status, rows, bytes, files, duration, rows/s."""
    table = Table(title=plain(title))
    for name, justify in (
        ("activity", "left"),
        ("status", "left"),
        ("rows", "right"),
        ("bytes", "right"),
        ("files", "right"),
        ("duration", "right"),
        ("rows/s", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for activity, s in rows:
        table.add_row(
            plain(activity),
            plain(s.status, "green" if s.succeeded else "red"),
            f"{s.rows_copied:,}",
            human_bytes(s.data_written),
            str(s.files_written),
            f"{s.copy_duration:.2f} s",
            f"{s.throughput:,.0f}",
        )
    return table


def error_line(code: str, message: str) -> str:
    """The one line printed on failure: no traceback, no secret (messages never carry one), escaped."""
    return escape(f"error: {code}: {' '.join(message.split())}")
