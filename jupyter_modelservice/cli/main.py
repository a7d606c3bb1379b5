"""The ``modelservice`` command line: its parser, and `main`, which runs a command and turns
its errors into one line on stderr and an exit status."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from ..config import ENV_DB_URL
from ..exceptions import InvalidInputError, InvalidModelIdError, ModelServiceError
from ..redaction import scrub_secrets
from ..statuses import STATUSES
from . import maintenance_commands, version_commands
from .common import PROG, Failure, UsageError, echo

__all__ = ["build_parser", "main"]


# -- parser ---------------------------------------------------------------------
def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--dir", metavar="PATH", default=default("./models"),
                        help="models directory (default: ./models)")
    parser.add_argument("--db-url", metavar="URL", default=default(None),
                        help=f"registry database URL (default: ${ENV_DB_URL}, else PATH/registry.db)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print one JSON document for scripts")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``modelservice`` (global options also work after the command)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Inspect and look after a jupyter_modelservice registry.",
        epilog="Exit status: 0 ok, 1 failure or problems found, 2 usage error.")
    _add_globals(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_globals(p, suppress=True)
        p.set_defaults(func=func)
        return p

    p = command("list", version_commands.cmd_list, "List registry rows (one per version), newest first.")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--search", metavar="TEXT", help="only ids or class names containing TEXT (plain text)")
    p.add_argument("--where", metavar="EXPR", help="only versions matching a query, e.g. "
                   "\"validation_score >= 0.9 and tags.team == 'vision'\"")
    p.add_argument("--as-of", dest="as_of", metavar="DATE",
                   help="the versions that existed at DATE (2026-11-29 or 2026-11-29T14:30, UTC), status of then")
    p.add_argument("--limit", metavar="N", type=int, help="at most N rows")

    p = command("show", version_commands.cmd_show, "Show one version's metadata and history.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')

    p = command("card", version_commands.cmd_card, "Print a version's model card (Markdown; the same registry content gives "
                "the same card).")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')

    grace_help = ("temp files and pending saves younger than this many seconds may belong to a running "
                  "save and are left alone (default: 3600)")
    p = command("verify", maintenance_commands.cmd_verify, "Check every file is present with the right hash; list orphans "
                "and dangling rows. Exit status 1 when anything is wrong.")
    p.add_argument("--repair", action="store_true",
                   help="first finish or undo interrupted saves and rewrite missing or stale sidecars")
    p.add_argument("--grace", type=_positive_seconds, default=3600.0, metavar="SECONDS", help=grace_help)

    p = command("gc", maintenance_commands.cmd_gc, "Remove stale .tmp-* files and archived versions' files; report bytes freed.")
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    p.add_argument("--grace", type=_positive_seconds, default=3600.0, metavar="SECONDS", help=grace_help)

    command("rebuild-index", maintenance_commands.cmd_rebuild, "Restore missing registry rows from the JSON sidecars "
            "(after losing the database). Existing rows are kept; restored versions are unverified "
            "(refused on load until confirmed with `trust`) unless the team key signed them.")

    p = command("trust", version_commands.cmd_trust, "Show an unverified version (restored or imported) with its history, "
                "then confirm it so that loads may deserialize it.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')
    p.add_argument("--yes", action="store_true", help="confirm without asking")

    p = command("export", maintenance_commands.cmd_export, "Write one version (model file + metadata) to a .zip archive.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')
    p.add_argument("archive", metavar="ARCHIVE", help="the .zip file to write")
    p.add_argument("--force", action="store_true", help="overwrite ARCHIVE if it exists")

    p = command("import", maintenance_commands.cmd_import, "Add a version from an archive written by export; its sha256 is "
                "verified. It keeps its version number when that is free, else becomes the next version.")
    p.add_argument("archive", metavar="ARCHIVE")
    p.add_argument("--as", dest="as_id", metavar="ID", help="import under another model id")
    p.add_argument("--as-new-version", action="store_true",
                   help="always add it as the id's next version instead of keeping its number")

    p = command("migrate", maintenance_commands.cmd_migrate, "Copy this registry to another database (e.g. PostgreSQL).")
    p.add_argument("--to", required=True, metavar="URL", help="target registry database URL")
    p.add_argument("--copy-files", metavar="URL",
                   help="also copy the model files to this models directory, or into the target database "
                        "with db:// (default: share them; a db:// registry's models are copied into the "
                        "target database)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``modelservice`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) and usage errors (2)
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    urls = [getattr(args, name, None) for name in ("db_url", "to", "dir", "copy_files")]
    urls.append(os.environ.get(ENV_DB_URL))

    def error(message: str) -> None:  # a message may quote a URL given on the command line
        _error(scrub_secrets(message, *urls))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = args.func(args)
        except BrokenPipeError:  # e.g. `modelservice list | head`: the reader has gone
            _silence_stdout()
            status = 1
        except UsageError as err:
            parser.print_usage(sys.stderr)
            error(str(err))
            status = 2
        except (InvalidModelIdError, InvalidInputError) as err:
            error(str(err))
            status = 2
        except (Failure, ModelServiceError, OSError) as err:
            error(_one_line(err))
            status = 1
        except KeyboardInterrupt:
            error("interrupted")
            status = 130
        except Exception as err:  # database driver errors the registry did not translate
            if not type(err).__module__.startswith(("sqlalchemy", "sqlite3", "psycopg")):
                raise
            error(f"the registry database failed: {_one_line(err)}")
            status = 1
    for warning in caught:
        echo(f"{PROG}: warning: {scrub_secrets(str(warning.message), *urls)}", err=True)
    return status


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, OSError) and not isinstance(err, ModelServiceError) and err.filename:
        text = f"{err.strerror or text}: {err.filename}"
    return " ".join(text.split())


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


def _error(message: str) -> None:
    echo(f"{PROG}: error: {message}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
