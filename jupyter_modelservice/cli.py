"""The ``modelservice`` command: inspect and look after a registry from a shell.

::

    modelservice [--dir PATH] [--db-url URL] [--json] COMMAND ...

    list [--status S] [--search TEXT] [--limit N]   registry rows, newest first
    show REF                                        one version ("rf" latest, "rf:3")
    verify [--repair]                               files present, hashes right, sidecars agree
    gc [--dry-run]                                  remove stale temp files, archived versions' files
    rebuild-index                                   registry rows from the JSON sidecars (unverified)
    trust REF [--yes]                               show an unverified version, then confirm it
    export REF ARCHIVE                              one version as one .zip file
    import ARCHIVE [--as ID] [--as-new-version]     add an exported version (unverified)
    migrate --to URL [--copy-files URL]             copy the registry to another database

``--dir db://`` (with ``--db-url``) opens a registry that keeps its models in
its database (``models_directory="db://"``); ``migrate --copy-files db://``
copies the model files into the target database.

Exit status: 0 success, 1 failure (including problems found by ``verify``),
2 usage error (bad option, bad reference or id). Errors are one line on
stderr; ``--json`` prints one JSON document on stdout. Also runnable as
``python -m jupyter_modelservice``. The logic lives in
:mod:`jupyter_modelservice.maintenance`; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from .config import ENV_DB_URL, is_database_store, is_remote
from .exceptions import InvalidInputError, InvalidModelIdError, ModelServiceError
from .redaction import redact_url, scrub_secrets
from .registry.engine import finite

__all__ = ["build_parser", "main"]

PROG = "modelservice"


class UsageError(Exception):
    """Bad command line input detected after parsing (exit status 2)."""


class Failure(Exception):
    """The command ran and found something wrong (exit status 1, message already clear)."""


# -- output -------------------------------------------------------------------
def _emit_json(data: Any) -> None:
    print(json.dumps(finite(data), indent=2, sort_keys=True, default=str))


def _emit_json_rows(rows: Iterable[dict[str, Any]]) -> None:
    """The text of ``_emit_json(list(rows))``, written row by row as the rows come."""
    write, opened = sys.stdout.write, False
    for row in rows:
        item = json.dumps([finite(row)], indent=2, sort_keys=True, default=str)  # "[\n  {...}\n]"
        write((",\n" if opened else "[\n") + item[2:-2])
        opened = True
    write("\n]\n" if opened else "[]\n")


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *rows]]
    return "\n".join(lines)


def _score(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _file_cell(row: dict[str, Any]) -> str:
    state = row.get("artifact_state")
    if state == "ready":
        return f"{row.get('file_format')} {_size(row.get('file_bytes'))}"
    if state == "pending":
        return "save incomplete"
    if state == "removed":
        return "removed by gc"
    return "-"


def _size(n: Any) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


# -- opening the registry -------------------------------------------------------
def _db_type(url: str) -> str:
    return "postgresql" if url.startswith(("postgresql", "postgres")) else "sqlite"


def _open(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The `ModelService` named by ``--dir`` / ``--db-url``; refuse a missing SQLite registry."""
    from .service import ModelService

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
    return ModelService(_db_type(url), directory, db_url=url)


# -- commands -------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be a positive number")
    with _open(args) as service:
        if args.json and args.as_of is None:  # streamed: memory stays that of one batch of rows
            _emit_json_rows(_streamed_rows(service, args))
            return 0
        rows = service.list_models(status=args.status, search=args.search, limit=args.limit, where=args.where,
                                   as_of=args.as_of)
    if args.json:
        _emit_json(rows)
        return 0
    if not rows:
        print("No models" + (" match." if args.status or args.search or args.where else " in the registry."))
        return 0
    body = [(f"{r['model_id']}:{r['version']}", r["status"], r["model_class"], _score(r.get("validation_score")),
             _file_cell(r), (r.get("training_date") or "")[:19].replace("T", " ")) for r in rows]
    print(_table(body, ("REF", "STATUS", "CLASS", "VAL SCORE", "FILE", "TRAINED (UTC)")))
    return 0


def _streamed_rows(service: Any, args: argparse.Namespace) -> Iterable[dict[str, Any]]:
    """The rows of ``service.list_models`` (no ``as_of``) as the registry reads them."""
    from .ids import validate_search

    search = validate_search(args.search)
    with closing(service.registry.iter_rows(status=args.status, search=search, limit=args.limit,
                                            where=args.where)) as rows:
        for row in rows:
            yield service.files.public(row)


def cmd_card(args: argparse.Namespace) -> int:
    from .ids import parse_ref

    with _open(args) as service:
        ref = parse_ref(args.ref)
        print(service.model_card(ref.model_id, ref.version))
    return 0


_SHOW_KEYS = ("model_id", "version", "status", "model_class", "model_module", "task_type", "scoring",
              "train_score", "validation_score", "training_samples", "validation_samples", "feature_count",
              "training_date", "fit_seconds", "file_path", "file_format", "file_bytes", "file_sha256",
              "artifact_state", "trust", "data_fingerprint", "parent", "tags", "model_params", "metrics",
              "cv_scores", "environment", "source")


def _print_version(row: dict[str, Any], history: list[dict[str, Any]], *, details: bool = False) -> None:
    width = max(len(k) for k in _SHOW_KEYS)
    for key in _SHOW_KEYS:
        value = row.get(key)
        if value is None or value == {} or value == []:
            continue
        text = json.dumps(finite(value), sort_keys=True, default=str) if isinstance(value, (dict, list)) else value
        print(f"{key.ljust(width)}  {text}")
    print("history")
    for event in history:
        change = f"{event['from_status'] or '-'} -> {event['to_status'] or '-'}"
        line = f"  {event['at'][:19].replace('T', ' ')}  {event['event']:<12} {change:<24} {event['actor']}"
        if details and event.get("details"):
            line += "  " + json.dumps(finite(event["details"]), sort_keys=True, default=str)
        print(line)


def cmd_show(args: argparse.Namespace) -> int:
    from .ids import parse_ref

    ref = parse_ref(args.ref)
    with _open(args) as service:
        row = service.get_model_metadata(ref.model_id, ref.version)
        history = service.model_history(row["model_id"], row["version"])
    if args.json:
        _emit_json({**row, "history": history})
        return 0
    _print_version(row, history)
    return 0


def cmd_trust(args: argparse.Namespace) -> int:
    from .ids import ModelRef, parse_ref
    from .trust import UNVERIFIED, origin

    parsed = parse_ref(args.ref)
    with _open(args) as service:
        row = service.get_model_metadata(parsed.model_id, parsed.version)
        ref = str(ModelRef(row["model_id"], row["version"]))
        history = service.model_history(row["model_id"], row["version"])
        if row.get("trust") != UNVERIFIED:
            if args.json:
                _emit_json({"ref": ref, "trusted": True, "changed": False})
            else:
                print(f"{ref} is already trusted: it was saved through this registry or confirmed before")
            return 0
        where = origin(service.registry, row)
        if args.json:
            if not args.yes:
                raise Failure(f"{ref} was not confirmed: with --json, pass --yes to confirm it")
        else:
            _print_version(row, history, details=True)
            print(f"origin  {where}")
            print(f"Trusting {ref} lets load_model deserialize its file (sha256 {row.get('file_sha256')}); "
                  "a pickle or joblib file can run any code when loaded. Confirm only a model whose "
                  "source you know.")
            if not args.yes and not _confirmed(f"Trust {ref}? [y/N] "):
                raise Failure(f"{ref} was not confirmed and stays unverified"
                              + ("" if sys.stdin.isatty() else "; pass --yes to confirm it without a prompt"))
        trusted = service.trust(ref)
    if args.json:
        _emit_json({"ref": ref, "trusted": True, "changed": True, "origin": where, "row": trusted})
    else:
        print(f"{ref} is now trusted")
    return 0


def _confirmed(question: str) -> bool:
    """Ask on the terminal; False without one (scripts pass --yes)."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_verify(args: argparse.Namespace) -> int:
    from . import maintenance

    with _open(args) as service:
        repaired = maintenance.repair(service, grace=args.grace) if args.repair else None
        report = maintenance.verify(service, grace=args.grace)
    if args.json:
        _emit_json({**report.to_dict(), **({"repaired": repaired.to_dict()} if repaired is not None else {})})
        return 0 if report.ok else 1
    if repaired is not None:
        for item in [*repaired.changes, *repaired.notes]:
            print(f"repaired: {item.message}")
    for problem in report.problems:
        print(f"{problem.kind}: {problem.message}")
    for note in report.notes:
        print(f"note: {note.message}")
    counts = report.counts
    summary = (f"{counts['rows']} rows, {counts['files']} files, {_size(counts['bytes_hashed'])} hashed: "
               + ("OK" if report.ok else f"{len(report.problems)} problem(s) "
                  + ", ".join(f"{k}={n}" for k, n in sorted(report.kinds().items()))))
    print(summary)
    if not report.ok and not args.repair and any(p.kind in ("incomplete_save", "missing_sidecar", "stale_sidecar")
                                                 for p in report.problems):
        print("run `modelservice verify --repair` to finish interrupted saves and rewrite sidecars")
    for problem in report.problems:
        if problem.kind == "unverified":
            print(f"check where {problem.ref} came from, then confirm it: modelservice trust {problem.ref}")
    return 0 if report.ok else 1


def cmd_gc(args: argparse.Namespace) -> int:
    from . import maintenance

    with _open(args) as service:
        report = maintenance.collect_garbage(service, dry_run=args.dry_run, grace=args.grace)
    if args.json:
        _emit_json(report.to_dict())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for item in report.of("removed"):
        print(f"{verb} {item.path} ({_size(item.bytes)}): {item.message}")
    for item in report.of("kept"):
        print(f"kept {item.path}: {item.message}")
    print(f"{len(report.of('removed'))} file(s), {_size(report.total_bytes('removed'))} "
          + ("would be freed (dry run)" if args.dry_run else "freed"))
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from . import maintenance

    with _open(args, create=True) as service:
        report = maintenance.rebuild_index(service)
    if args.json:
        _emit_json(report.to_dict())
        return 0 if report.ok else 1
    for item in report.of("added"):
        print(f"restored {item.ref}" + (f" as unverified: check it, then `modelservice trust {item.ref}`"
                                        if item.details.get("trust") == "unverified" else " (signed with the team key)"))
    for item in report.of("conflict"):
        print(f"conflict {item.ref}: {item.message}")
    for item in report.of("refused"):
        print(f"refused {item.message}")
    for note in report.of("no_sidecars"):
        print(note.message)
    print(f"{len(report.of('added'))} version(s) restored ({len(report.of('unverified'))} unverified), "
          f"{len(report.of('present'))} already present, {len(report.of('conflict'))} conflict(s), "
          f"{len(report.of('refused'))} sidecar(s) refused")
    return 0 if report.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    from . import maintenance

    with _open(args) as service:
        manifest = maintenance.export_version(service, args.ref, args.archive, overwrite=args.force)
    if args.json:
        _emit_json(manifest)
    else:
        print(f"exported {manifest['model_id']}:{manifest['version']} ({manifest['file_format']}, "
              f"{_size(manifest['bytes'])}, sha256 {manifest['sha256'][:12]}…) to {manifest['archive']}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from . import maintenance

    if not Path(args.archive).is_file():
        raise Failure(f"no archive at {args.archive}")
    with _open(args, create=True) as service:
        report = maintenance.import_version(service, args.archive, model_id=args.as_id,
                                            as_new_version=args.as_new_version)
    if args.json:
        _emit_json(report.to_dict())
    else:
        [imported] = report.of("imported")
        result = {**imported.details, "ref": imported.ref}
        how = ("" if result["kept_version"] else " (as a new version)" if args.as_new_version
               else f" (version {result['original'].rsplit(':', 1)[1]} was taken)")
        print(f"imported {result['original']} as {result['ref']}{how}, sha256 verified")
        if result["trust"] == "unverified":
            print(f"{result['ref']} is unverified: check where it came from, then "
                  f"`modelservice trust {result['ref']}`")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        from .migrate import migrate_registry  # refuses a target that is the source itself
    except ImportError as err:
        raise Failure(f"this installation cannot migrate registries ({err})") from err
    from .service import ModelService

    with _open(args) as source:
        directory = args.copy_files or source.models_directory
        progress = None if args.json else _ProgressLine()
        # models kept in a registry database ("db://") are copied into the target's database
        copy_files = bool(args.copy_files) or is_database_store(directory)
        with ModelService(_db_type(args.to), directory, db_url=args.to) as target:
            result = migrate_registry(source, target, copy_files=copy_files, progress=progress)
    if progress is not None and progress.shown:
        print(file=sys.stderr)
    if args.json:
        _emit_json(result)
    else:
        for key, value in result.items():
            if isinstance(value, list):
                value = f"{len(value)}" + (f" ({', '.join(map(str, value[:10]))}{', …' if len(value) > 10 else ''})"
                                           if value else "")
            print(f"{key}: {value}")
    return 0 if result["ok"] else 1


class _ProgressLine:
    """``progress(done, total)`` shown as one updating line on stderr."""

    shown = False

    def __call__(self, done: int, total: int) -> None:
        print(f"\rmigrated {done}/{total}", end="", file=sys.stderr, flush=True)
        self.shown = True


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

    p = command("list", cmd_list, "List registry rows (one per version), newest first.")
    p.add_argument("--status", choices=("trained", "saved", "production", "archived"))
    p.add_argument("--search", metavar="TEXT", help="only ids or class names containing TEXT (plain text)")
    p.add_argument("--where", metavar="EXPR", help="only versions matching a query, e.g. "
                   "\"validation_score >= 0.9 and tags.team == 'vision'\"")
    p.add_argument("--as-of", dest="as_of", metavar="DATE",
                   help="the versions that existed at DATE (2026-11-29 or 2026-11-29T14:30, UTC), status of then")
    p.add_argument("--limit", metavar="N", type=int, help="at most N rows")

    p = command("show", cmd_show, "Show one version's metadata and history.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')

    p = command("card", cmd_card, "Print a version's model card (Markdown; the same registry content gives "
                "the same card).")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')

    grace_help = ("temp files and pending saves younger than this many seconds may belong to a running "
                  "save and are left alone (default: 3600)")
    p = command("verify", cmd_verify, "Check every file is present with the right hash; list orphans "
                "and dangling rows. Exit status 1 when anything is wrong.")
    p.add_argument("--repair", action="store_true",
                   help="first finish or undo interrupted saves and rewrite missing or stale sidecars")
    p.add_argument("--grace", type=_positive_seconds, default=3600.0, metavar="SECONDS", help=grace_help)

    p = command("gc", cmd_gc, "Remove stale .tmp-* files and archived versions' files; report bytes freed.")
    p.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    p.add_argument("--grace", type=_positive_seconds, default=3600.0, metavar="SECONDS", help=grace_help)

    command("rebuild-index", cmd_rebuild, "Restore missing registry rows from the JSON sidecars "
            "(after losing the database). Existing rows are kept; restored versions are unverified "
            "(refused on load until confirmed with `trust`) unless the team key signed them.")

    p = command("trust", cmd_trust, "Show an unverified version (restored or imported) with its history, "
                "then confirm it so that loads may deserialize it.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')
    p.add_argument("--yes", action="store_true", help="confirm without asking")

    p = command("export", cmd_export, "Write one version (model file + metadata) to a .zip archive.")
    p.add_argument("ref", metavar="REF", help='"id" (latest version) or "id:N"')
    p.add_argument("archive", metavar="ARCHIVE", help="the .zip file to write")
    p.add_argument("--force", action="store_true", help="overwrite ARCHIVE if it exists")

    p = command("import", cmd_import, "Add a version from an archive written by export; its sha256 is "
                "verified. It keeps its version number when that is free, else becomes the next version.")
    p.add_argument("archive", metavar="ARCHIVE")
    p.add_argument("--as", dest="as_id", metavar="ID", help="import under another model id")
    p.add_argument("--as-new-version", action="store_true",
                   help="always add it as the id's next version instead of keeping its number")

    p = command("migrate", cmd_migrate, "Copy this registry to another database (e.g. PostgreSQL).")
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
        print(f"{PROG}: warning: {scrub_secrets(str(warning.message), *urls)}", file=sys.stderr)
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
    print(f"{PROG}: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
