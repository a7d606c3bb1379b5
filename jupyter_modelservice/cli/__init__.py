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
:mod:`jupyter_modelservice.maintenance`; this package only parses and prints
(`main`: the parser; `version_commands`, `maintenance_commands`; `common`: output).
"""

from __future__ import annotations

from .main import build_parser, main

__all__ = ["build_parser", "main"]
