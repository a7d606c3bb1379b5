"""What the ``modelservice`` commands share: their two errors, output (JSON and text tables) and
opening the registry named on the command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..config import ENV_DB_URL, is_remote
from ..formatting import format_bytes
from ..redaction import redact_url
from ..registry.engine import finite

PROG = "modelservice"


class UsageError(Exception):
    """Bad command line input detected after parsing (exit status 2)."""


class Failure(Exception):
    """The command ran and found something wrong (exit status 1, message already clear)."""


# -- output -------------------------------------------------------------------
def echo(text: object = "", *, err: bool = False, end: str = "\n") -> None:
    """Write ``text`` as a line of the command's output (on stderr with ``err``), flushed."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}{end}")
    stream.flush()


def emit_json(data: Any) -> None:
    echo(json.dumps(finite(data), indent=2, sort_keys=True, default=str))


def emit_json_rows(rows: Iterable[dict[str, Any]]) -> None:
    """The text of ``emit_json(list(rows))``, written row by row as the rows come."""
    write, opened = sys.stdout.write, False
    for row in rows:
        item = json.dumps([finite(row)], indent=2, sort_keys=True, default=str)  # "[\n  {...}\n]"
        write((",\n" if opened else "[\n") + item[2:-2])
        opened = True
    write("\n]\n" if opened else "[]\n")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *rows]]
    return "\n".join(lines)


def score(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def file_cell(row: dict[str, Any]) -> str:
    state = row.get("artifact_state")
    if state == "ready":
        return f"{row.get('file_format')} {format_bytes(row.get('file_bytes'))}"
    if state == "pending":
        return "save incomplete"
    if state == "removed":
        return "removed by gc"
    return "-"


# -- opening the registry -------------------------------------------------------
def db_type(url: str) -> str:
    return "postgresql" if url.startswith(("postgresql", "postgres")) else "sqlite"


def open_service(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The `ModelService` named by ``--dir`` / ``--db-url``; refuse a missing SQLite registry."""
    from ..service import ModelService

    url = args.db_url or os.environ.get(ENV_DB_URL) or None
    directory = args.dir
    if url is None:
        if is_remote(directory):
            raise UsageError(f"--dir {redact_url(directory)} is remote; give the registry's PostgreSQL URL with "
                             f"--db-url or {ENV_DB_URL}.")
        folder = Path(directory).expanduser()
        if not create and not (folder / "registry.db").is_file():
            raise Failure(f"no registry in {folder} (there is no registry.db); pass --dir with your "
                          "models folder, or --db-url")
        return ModelService("sqlite", folder)
    return ModelService(db_type(url), directory, db_url=url)


def confirmed(question: str) -> bool:
    """Ask on the terminal; False without one (scripts pass --yes)."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False
