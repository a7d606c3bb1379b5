"""The extension's main magics: the service they share, ``%ms_config``, ``%models``, ``%promote``
and ``%rollback``.

``%train`` / ``%cv`` (:mod:`.training_magics`), ``%evaluate`` / ``%compare`` /
``%importance`` (:mod:`.analysis_magics`) and ``%diff`` / ``%reproduce``
(:mod:`.diff_magics`) are registered beside them and use their service. Each
magic parses its line with ``magic_arguments`` (so ``%train?`` shows the full
help), calls the `ModelService` and returns a result object from
:mod:`jupyter_modelservice.display`, shown once (:mod:`.magic_output`).
``-q`` shows nothing, ``-o NAME`` stores the result in the notebook variable ``NAME``.

The service, scikit-learn, pandas and matplotlib are imported on the first
magic that needs them, never when the extension loads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ..display import RegistryTable, ServiceConfig
from ..redaction import redact_url
from ..statuses import STATUSES
from .magic_output import output_options, present
from .progress import in_widget_kernel
from .resolve import lookup
from .usage import parse_line, plain_help, user_errors

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["ModelServiceMagics"]

DEFAULT_SETTINGS = {"db_type": "sqlite", "db_url": None, "models_directory": "models"}


def _shown_path(path: str | os.PathLike[str]) -> str:
    """A local folder as shown to the user: relative to the working directory when inside it,
    so that a saved notebook holds no path of the machine that ran it."""
    text = os.fspath(path)
    if "://" in text:
        return text
    full = os.path.abspath(text)
    relative = os.path.relpath(full)
    return full if relative == ".." or relative.startswith(".." + os.sep) else relative


@magics_class
@plain_help
class ModelServiceMagics(Magics):
    """Notebook magics over one lazily created :class:`~jupyter_modelservice.ModelService`.

    Parameters
    ----------
    shell : InteractiveShell
    """

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.settings: dict[str, Any] = dict(DEFAULT_SETTINGS)
        self._service: ModelService | None = None

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's namespace (a registered magic always has its shell)."""
        assert self.shell is not None, "ModelServiceMagics is used without an IPython shell"
        return self.shell.user_ns

    # -- the service ---------------------------------------------------------
    @property
    def service(self) -> ModelService:
        """The `ModelService` of this notebook, created on first use from ``settings``."""
        if self._service is None:
            self._service = self._make_service(self.settings)
        return self._service

    @staticmethod
    def _make_service(settings: dict[str, Any]) -> ModelService:
        from ..service import ModelService

        directory = str(settings["models_directory"])
        if "://" not in directory:
            directory = os.path.abspath(os.path.expanduser(directory))
        with user_errors("Cannot open the model registry"):
            return ModelService(db_type=settings["db_type"], models_directory=directory,
                                db_url=settings["db_url"])

    def close(self) -> None:
        """Release the service's database connections."""
        if self._service is not None:
            self._service.close()
            self._service = None

    # -- %ms_config ------------------------------------------------------------
    @magic_arguments()
    @argument("--db", choices=("sqlite", "postgresql"), help="registry database type")
    @argument("--db-url", metavar="URL", help="SQLAlchemy URL of the registry database")
    @argument("--dir", metavar="PATH", help="models directory (a folder, or an fsspec URL with PostgreSQL)")
    @argument("-o", "--output", metavar="NAME",
              help="store the magics' ModelService in the notebook variable NAME (for the Python API "
                   "and the widget panels)")
    @argument("-q", "--quiet", action="store_true", help="do not display the settings")
    @line_magic
    def ms_config(self, line: str) -> ServiceConfig:
        """Show or set where the model registry lives (default: ./models beside the notebook).

        Changing a setting closes the current registry connection and opens the
        new one right away, so a wrong URL or folder is reported here.
        ``-o service`` hands the magics' own ModelService to the notebook:
        ``service.load_model("rf")`` then reads the registry the magics write.

        Examples::

            %ms_config
            %ms_config --dir ./models_experiment -o service
            %ms_config --db postgresql --db-url postgresql+psycopg://me@db/models --dir s3://bucket/models
        """
        args = parse_line(self.ms_config, line)
        changes = {key: value for key, value in
                   (("db_type", args.db), ("db_url", args.db_url), ("models_directory", args.dir))
                   if value is not None}
        if changes:
            settings = {**self.settings, **changes}
            service = self._make_service(settings)
            self.close()
            self.settings, self._service = settings, service
        service = self.service
        config = ServiceConfig({"db_type": service.db_type, "db_url": redact_url(self.settings["db_url"]),
                                "models_directory": _shown_path(service.models_directory)})
        output, args.output = args.output, None
        if output:  # the service itself: the notebook and the magics share one registry connection
            self.user_ns[output] = service
        return present(self.shell, config, args)

    # -- %models ---------------------------------------------------------------
    @magic_arguments()
    @argument("--status", choices=STATUSES,
              help="only versions with this status")
    @argument("--search", metavar="TEXT", help="only ids or class names containing TEXT")
    @argument("--id", dest="model_id", metavar="ID", help="only the versions of this model id")
    @argument("--where", metavar="EXPR", help="only versions matching a query, e.g. "
              "\"validation_score >= 0.9 and tags.team == 'vision'\" (quote it)")
    @argument("--as-of", dest="as_of", metavar="DATE",
              help="the versions that existed at DATE (2026-11-29 or 2026-11-29T14:30, UTC) with their status then")
    @argument("--limit", type=int, metavar="N", help="at most N rows (newest first)")
    @output_options
    @line_magic
    def models(self, line: str) -> Any:
        """Browse the model versions of the registry, newest first.

        In a Jupyter kernel with ipywidgets this shows the `RegistryBrowser`
        panel (search, filter, details, load / set status / delete / compare);
        elsewhere (terminal IPython, ``-o``/``-q`` scripts) an HTML/text table.

        Examples::

            %models
            %models --status production
            %models --search Forest
            %models --id rf
            %models --where "validation_score >= 0.9 and status in ('saved', 'production')"
            %models --as-of 2026-11-01 --status production
        """
        args = parse_line(self.models, line)
        if in_widget_kernel(self.shell) and args.as_of is None:
            from .browser import RegistryBrowser

            with user_errors("Cannot open the registry browser"):
                browser = RegistryBrowser(
                    self.service, namespace=self.user_ns, status=args.status,
                    search=args.where or args.search or "", model_id=args.model_id,
                    **({"page_size": args.limit} if args.limit else {}),
                )
            return present(self.shell, browser, args)
        with user_errors("Cannot list the registry"):
            rows = self.service.list_models(status=args.status, model_id=args.model_id, search=args.search,
                                            limit=args.limit, where=args.where, as_of=args.as_of)
        filters = [f"{k} {v!r}" for k, v in (("status", args.status), ("id", args.model_id),
                                              ("search", args.search), ("where", args.where),
                                              ("as of", args.as_of)) if v]
        return present(self.shell, RegistryTable(rows, description=", ".join(filters)), args)

    # -- %promote, %rollback ---------------------------------------------------
    @magic_arguments()
    @argument("words", nargs="+", metavar="REF [X_test y_test]",
              help="the version to promote (id or id:N), and optionally test data to compare it with "
                   "the version in production")
    @argument("--require-better", action="store_true",
              help="refuse unless it is significantly better than the version in production")
    @argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    @output_options
    @line_magic
    def promote(self, line: str) -> Any:
        """Put a saved version in production; with test data, record the evidence of a paired test.

        Examples::

            %promote rf:3
            %promote rf:3 X_test y_test --require-better
        """
        args = parse_line(self.promote, line)
        if len(args.words) not in (1, 3):
            raise UsageError("Expected %promote REF [X_test y_test] [--require-better].")
        X = y = None
        if len(args.words) == 3:
            X = lookup(args.words[1], self.user_ns, "X_test")
            y = lookup(args.words[2], self.user_ns, "y_test")
        with user_errors("Not promoted", service=self.service, refs=args.words[:1]):
            row = self.service.promote(args.words[0], X_test=X, y_test=y, require_better=args.require_better,
                                       alpha=args.alpha)
            rows = self.service.list_models(model_id=row["model_id"], order_by="-version")
        evidence = [e for e in self.service.model_history(f"{row['model_id']}:{row['version']}")
                    if e["to_status"] == "production"]
        said = _evidence_text((evidence[-1].get("details") or {}).get("promotion") if evidence else None)
        ref = f"{row['model_id']}:{row['version']}"
        return present(self.shell, RegistryTable(rows, description=f"{ref} in production{said}"), args)

    @magic_arguments()
    @argument("model_id", metavar="ID", help="the model id whose production version goes back one step")
    @output_options
    @line_magic
    def rollback(self, line: str) -> Any:
        """Put back in production the version that was there before the current one (from the history).

        Example::

            %rollback rf
        """
        args = parse_line(self.rollback, line)
        with user_errors("Not rolled back", service=self.service, refs=[args.model_id]):
            ref = self.service.rollback(args.model_id)
            rows = self.service.list_models(model_id=args.model_id, order_by="-version")
        return present(self.shell, RegistryTable(rows, description=f"rolled back: {ref} in production again"), args)


def _evidence_text(evidence: Any) -> str:
    """`` (accuracy 0.95 vs 0.91 of rf:2, exact McNemar p = 0.003, n = 143)`` or nothing."""
    if not isinstance(evidence, dict) or not evidence.get("compared_with"):
        return ""
    return (f" ({evidence['metric']} {evidence['challenger_value']:.4f} vs {evidence['champion_value']:.4f} "
            f"of {evidence['compared_with']}, {evidence['test']} p = {evidence['p_value']:.3g}, "
            f"n = {evidence['n_samples']})")

