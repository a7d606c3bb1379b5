"""The ``modelservice`` commands that show versions: ``list``, ``card``, ``show`` and ``trust``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from contextlib import closing
from typing import Any

from ..columns import CLI_LIST, pick
from ..formatting import format_timestamp
from ..registry.engine import finite
from .common import (
    Failure,
    UsageError,
    confirmed,
    echo,
    emit_json,
    emit_json_rows,
    open_service,
    table,
)


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be a positive number")
    with open_service(args) as service:
        if args.json and args.as_of is None:  # streamed: memory stays that of one batch of rows
            emit_json_rows(_streamed_rows(service, args))
            return 0
        rows = service.list_models(status=args.status, search=args.search, limit=args.limit, where=args.where,
                                   as_of=args.as_of)
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        echo("No models" + (" match." if args.status or args.search or args.where else " in the registry."))
        return 0
    echo(table(pick(CLI_LIST), rows))
    return 0


def _streamed_rows(service: Any, args: argparse.Namespace) -> Iterable[dict[str, Any]]:
    """The rows of ``service.list_models`` (no ``as_of``) as the registry reads them."""
    from ..ids import validate_search

    search = validate_search(args.search)
    with closing(service.registry.iter_rows(status=args.status, search=search, limit=args.limit,
                                            where=args.where)) as rows:
        for row in rows:
            yield service.files.public(row)


def cmd_card(args: argparse.Namespace) -> int:
    from ..ids import parse_ref

    with open_service(args) as service:
        ref = parse_ref(args.ref)
        echo(service.model_card(ref.model_id, ref.version))
    return 0


SHOW_KEYS = ("model_id", "version", "status", "model_class", "model_module", "task_type", "scoring",
              "train_score", "validation_score", "training_samples", "validation_samples", "feature_count",
              "training_date", "fit_seconds", "file_path", "file_format", "file_bytes", "file_sha256",
              "artifact_state", "trust", "data_fingerprint", "parent", "tags", "model_params", "metrics",
              "cv_scores", "environment", "source")


def print_version(row: dict[str, Any], history: list[dict[str, Any]], *, details: bool = False) -> None:
    width = max(len(k) for k in SHOW_KEYS)
    for key in SHOW_KEYS:
        value = row.get(key)
        if value is None or value == {} or value == []:
            continue
        text = json.dumps(finite(value), sort_keys=True, default=str) if isinstance(value, (dict, list)) else value
        echo(f"{key.ljust(width)}  {text}")
    echo("history")
    for event in history:
        change = f"{event['from_status'] or '-'} -> {event['to_status'] or '-'}"
        line = f"  {format_timestamp(event['at'])}  {event['event']:<12} {change:<24} {event['actor']}"
        if details and event.get("details"):
            line += "  " + json.dumps(finite(event["details"]), sort_keys=True, default=str)
        echo(line)


def cmd_show(args: argparse.Namespace) -> int:
    from ..ids import parse_ref

    ref = parse_ref(args.ref)
    with open_service(args) as service:
        row = service.get_model_metadata(ref.model_id, ref.version)
        history = service.model_history(row["model_id"], row["version"])
    if args.json:
        emit_json({**row, "history": history})
        return 0
    print_version(row, history)
    return 0


def cmd_trust(args: argparse.Namespace) -> int:
    from ..ids import ModelRef, parse_ref
    from ..trust import UNVERIFIED, origin

    parsed = parse_ref(args.ref)
    with open_service(args) as service:
        row = service.get_model_metadata(parsed.model_id, parsed.version)
        ref = str(ModelRef(row["model_id"], row["version"]))
        history = service.model_history(row["model_id"], row["version"])
        if row.get("trust") != UNVERIFIED:
            if args.json:
                emit_json({"ref": ref, "trusted": True, "changed": False})
            else:
                echo(f"{ref} is already trusted: it was saved through this registry or confirmed before")
            return 0
        where = origin(service.registry, row)
        if args.json:
            if not args.yes:
                raise Failure(f"{ref} was not confirmed: with --json, pass --yes to confirm it")
        else:
            print_version(row, history, details=True)
            echo(f"origin  {where}")
            echo(f"Trusting {ref} lets load_model deserialize its file (sha256 {row.get('file_sha256')}); "
                  "a pickle or joblib file can run any code when loaded. Confirm only a model whose "
                  "source you know.")
            if not args.yes and not confirmed(f"Trust {ref}? [y/N] "):
                raise Failure(f"{ref} was not confirmed and stays unverified"
                              + ("" if sys.stdin.isatty() else "; pass --yes to confirm it without a prompt"))
        trusted = service.trust(ref)
    if args.json:
        emit_json({"ref": ref, "trusted": True, "changed": True, "origin": where, "row": trusted})
    else:
        echo(f"{ref} is now trusted")
    return 0
