"""What the ``modelservice`` commands share: their two errors, output (JSON and text tables) and
opening the registry named on the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..columns import Column, cells
from ..config import ENV_DB_URL, is_remote
from ..formatting import aligned
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


def table(columns: Sequence[Column], rows: Iterable[Any]) -> str:
    """``rows`` in ``columns`` (`jupyter_modelservice.columns`), titles in capitals, aligned with spaces."""
    body = [[column.title.upper() for column in columns], *cells(columns, rows)]
    return "\n".join(aligned(body, "".join(column.align for column in columns)))


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
