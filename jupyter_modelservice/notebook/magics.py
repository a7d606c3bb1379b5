"""The magics: ``%evaluate``, ``%compare``, ``%importance``, ``%models``, ``%ms_config`` (and the
service that ``%train`` and ``%cv``, in :mod:`.training_magics`, and ``%diff`` share).

Each magic parses its line with ``magic_arguments`` (so ``%train?`` shows the
full help), calls the `ModelService`, displays a result object from
:mod:`jupyter_modelservice.display` and returns it. ``-q`` skips the display,
``-o NAME`` stores the result in the notebook variable ``NAME``.

The service, scikit-learn, pandas and matplotlib are imported on the first
magic that needs them, never when the extension loads.
"""

from __future__ import annotations

import os
import warnings
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, kwds, magic_arguments
from IPython.display import display

from ..display import (
    ComparisonResult,
    CVComparisonResult,
    EvaluationResult,
    ImportanceResult,
    RegistryTable,
    ServiceConfig,
)
from ..exceptions import NoImportanceWarning
from ..metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from ..redaction import redact_url
from .interrupts import MagicInterrupted, interruptible
from .progress import in_widget_kernel, progress_bar
from .resolve import lookup
from .usage import parse_line, plain_help, usage_line, user_errors

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["ModelServiceMagics"]

DEFAULT_SETTINGS = {"db_type": "sqlite", "db_url": None, "models_directory": "models"}


def _output_options(func: Any) -> Any:
    """The ``-q`` / ``-o NAME`` options every magic shares."""
    func = argument("-o", "--output", metavar="NAME",
                    help="store the result object in the notebook variable NAME")(func)
    return argument("-q", "--quiet", action="store_true", help="do not display the result")(func)


def _parse(magic: Any, line: str) -> Any:
    """Parse ``line`` for ``magic``, allowing options between the positional words.

    The line is split like a shell's (``--dir "my models"``), see `split_line`; a
    missing positional argument is named, with the usage line (`parse_line`).
    """
    return parse_line(magic, line)


def _user_errors(action: str, **context: Any) -> AbstractContextManager[None]:
    """Turn the service's errors into a one-paragraph UsageError (see `user_errors` for ``context``)."""
    return user_errors(action, **context)


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
        self._echoes: list[Any] = []

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
        with _user_errors("Cannot open the model registry"):
            return ModelService(db_type=settings["db_type"], models_directory=directory,
                                db_url=settings["db_url"])

    def close(self) -> None:
        """Release the service's database connections."""
        if self._service is not None:
            self._service.close()
            self._service = None

    # -- output ----------------------------------------------------------------
    def _emit(self, result: Any, args: Any) -> Any:
        """Display ``result`` (unless ``-q``), store it for ``-o``, and return it.

        The returned object would be echoed a second time as the cell's value
        when the magic is the last line; it is marked to render as nothing
        until the cell ends (see :meth:`forget_echoes`).
        """
        if args.output:
            self.user_ns[args.output] = result
        if not args.quiet:
            display(result)
        result._ipython_display_ = _no_display
        self._echoes.append(result)
        return result

    def forget_echoes(self, *_: Any) -> None:
        """After a cell ran: let the results returned in it display normally again."""
        for result in self._echoes:
            result.__dict__.pop("_ipython_display_", None)
        self._echoes.clear()

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
        args = _parse(self.ms_config, line)
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
        return self._emit(config, args)

    # -- %evaluate -------------------------------------------------------------
    @magic_arguments()
    @argument("ref", metavar="REF", help="model id (latest version) or id:version")
    @argument("X_test", help="notebook variable of the test features")
    @argument("y_test", help="notebook variable of the test target")
    @argument("--task", choices=("classification", "regression"),
              help="task type (default: the one recorded at training)")
    @_output_options
    @no_var_expand
    @line_magic
    def evaluate(self, line: str) -> EvaluationResult:
        """Evaluate a registered model on test data: metrics and charts.

        Classification: metrics, confusion matrix, ROC curve (binary, with
        probabilities). Regression: metrics, actual vs predicted, residuals.

        Examples::

            %evaluate rf X_test y_test
            %evaluate rf:2 X_test y_test -o rf_eval
        """
        args = _parse(self.evaluate, line)
        namespace = self.user_ns
        X = lookup(args.X_test, namespace, "X_test")
        y = lookup(args.y_test, namespace, "y_test")
        service = self.service
        names = {"X_test": args.X_test, "y_test": args.y_test, "X": args.X_test, "y": args.y_test}
        with _user_errors(f"Cannot evaluate {args.ref}", service=service, refs=[args.ref], names=names), \
                interruptible(f"evaluating {args.ref}"):
            data = service.evaluate_model(X, y, model_id=args.ref, task_type=args.task,
                                          return_predictions=True)
        return self._emit(EvaluationResult.from_evaluation(data, y), args)

    # -- %compare --------------------------------------------------------------
    @magic_arguments()
    @kwds(usage="%(prog)s REF [REF ...] X_test y_test [options]\n"
                "       %%%(prog)s --cv REF [REF ...] [--sort SCORING]   (their recorded cross-validations)")
    @argument("words", nargs="+", metavar="REF [REF ...] X_test y_test",
              help="REF\ta model id (latest version) or id:version, one or more\n"
                   "X_test\tthe notebook variable of the test features (not with --cv)\n"
                   "y_test\tthe notebook variable of the test target (not with --cv)")
    @argument("--sort", metavar="METRIC",
              help="metric to rank by (default accuracy / r2_score); mse, rmse, mae rank lowest first; "
                   "with --cv a recorded scikit-learn scoring")
    @argument("--cv", action="store_true",
              help="compare the REFs' recorded cross-validations on the same folds (corrected resampled t-test)")
    @_output_options
    @no_var_expand
    @line_magic
    def compare(self, line: str) -> ComparisonResult | CVComparisonResult:
        """Compare registered models on the same test data, best first, with paired tests.

        REF is a model id (latest version) or id:version. A stored evaluation
        of a version on the same data is reused. With --cv, the versions'
        recorded cross-validations (%train ... --cv K) are compared instead.

        Examples::

            %compare rf lr svc X_test y_test
            %compare ridge:1 ridge:2 X_test y_test --sort rmse
            %compare --cv rf lr svc
        """
        args = _parse(self.compare, line)
        if args.cv:
            with _user_errors("Cannot compare", service=self.service, refs=args.words):
                frame = self.service.compare_cv(args.words, scoring=args.sort)
            return self._emit(CVComparisonResult(frame), args)
        if len(args.words) < 3:
            what = "The model ids are missing" if len(args.words) == 2 else "Expected REF [REF ...] X_test y_test"
            raise UsageError(f"{what}: %compare takes REF [REF ...] X_test y_test (got "
                             f"{' '.join(args.words)}).\n{usage_line(self.compare)}")
        if args.sort and args.sort not in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS):
            raise UsageError(f"Cannot sort by {args.sort!r}: choose one of "
                             f"{', '.join(CLASSIFICATION_METRICS + REGRESSION_METRICS)}.")
        *refs, x_name, y_name = args.words
        namespace = self.user_ns
        X = lookup(x_name, namespace, "X_test")
        y = lookup(y_name, namespace, "y_test")
        service = self.service
        names = {"X_test": x_name, "y_test": y_name, "X": x_name, "y": y_name}
        with _user_errors("Cannot compare", service=service, refs=refs, names=names), \
                progress_bar(len(refs), "Evaluating", "models", shell=self.shell, quiet=args.quiet) as bar:
            try:
                frame = service.compare_models(refs, X, y, metric=args.sort, progress=bar)
            except KeyboardInterrupt:
                raise MagicInterrupted(f"Interrupted while evaluating ({bar.done} of {len(refs)} models "
                                       "done).") from None
        try:
            result = ComparisonResult(frame, sort_by=args.sort)
        except ValueError as err:
            raise UsageError(str(err)) from err
        return self._emit(result, args)

    # -- %importance -----------------------------------------------------------
    @magic_arguments()
    @argument("ref", metavar="REF", help="model id (latest version) or id:version")
    @argument("--names", metavar="VAR",
              help="notebook variable with the feature names (default: the training columns)")
    @argument("--top", type=int, default=20, metavar="N", help="features shown (default 20)")
    @argument("--permutation", nargs=2, metavar=("X", "y"),
              help="permutation importance on these data (works for any estimator)")
    @_output_options
    @no_var_expand
    @line_magic
    def importance(self, line: str) -> ImportanceResult:
        """Show the most important features of a registered model.

        Tree models use feature_importances_, linear models |coef_|; any model
        works with --permutation X y.

        Examples::

            %importance rf --top 10
            %importance svc --permutation X_test y_test
        """
        args = _parse(self.importance, line)
        if args.top < 1:
            raise UsageError("--top needs a positive number of features.")
        namespace = self.user_ns
        names = lookup(args.names, namespace, "--names") if args.names else None
        if names is not None:
            names = [str(n) for n in getattr(names, "columns", names)]
        X = y = None
        if args.permutation:
            X = lookup(args.permutation[0], namespace, "X")
            y = lookup(args.permutation[1], namespace, "y")
        service = self.service
        data_names = dict(zip(("X", "y"), args.permutation or ()))
        with _user_errors(f"Cannot compute the importances of {args.ref}", service=service, refs=[args.ref],
                          names=data_names), warnings.catch_warnings(), \
                interruptible(f"computing the importances of {args.ref}"):
            warnings.simplefilter("error", NoImportanceWarning)
            row = service.get_model_metadata(args.ref)
            ref = f"{row['model_id']}:{row['version']}"
            try:
                values = service.get_feature_importance(names, model_id=ref, permutation=X is not None,
                                                        X=X, y=y)
            except NoImportanceWarning as err:
                raise UsageError(f"{ref} has no built-in importances ({err}): "
                                 f"try %importance {args.ref} --permutation X_test y_test") from err
        return self._emit(ImportanceResult(values, ref=ref, top=args.top), args)

    # -- %models ---------------------------------------------------------------
    @magic_arguments()
    @argument("--status", choices=("trained", "saved", "production", "archived"),
              help="only versions with this status")
    @argument("--search", metavar="TEXT", help="only ids or class names containing TEXT")
    @argument("--id", dest="model_id", metavar="ID", help="only the versions of this model id")
    @argument("--where", metavar="EXPR", help="only versions matching a query, e.g. "
              "\"validation_score >= 0.9 and tags.team == 'vision'\" (quote it)")
    @argument("--as-of", dest="as_of", metavar="DATE",
              help="the versions that existed at DATE (2026-11-29 or 2026-11-29T14:30, UTC) with their status then")
    @argument("--limit", type=int, metavar="N", help="at most N rows (newest first)")
    @_output_options
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
        args = _parse(self.models, line)
        if in_widget_kernel(self.shell) and args.as_of is None:
            from .browser import RegistryBrowser

            with _user_errors("Cannot open the registry browser"):
                browser = RegistryBrowser(
                    self.service, namespace=self.user_ns, status=args.status,
                    search=args.where or args.search or "", model_id=args.model_id,
                    **({"page_size": args.limit} if args.limit else {}),
                )
            return self._emit(browser, args)
        with _user_errors("Cannot list the registry"):
            rows = self.service.list_models(status=args.status, model_id=args.model_id, search=args.search,
                                            limit=args.limit, where=args.where, as_of=args.as_of)
        filters = [f"{k} {v!r}" for k, v in (("status", args.status), ("id", args.model_id),
                                              ("search", args.search), ("where", args.where),
                                              ("as of", args.as_of)) if v]
        return self._emit(RegistryTable(rows, description=", ".join(filters)), args)

    # -- %promote, %rollback ---------------------------------------------------
    @magic_arguments()
    @argument("words", nargs="+", metavar="REF [X_test y_test]",
              help="the version to promote (id or id:N), and optionally test data to compare it with "
                   "the version in production")
    @argument("--require-better", action="store_true",
              help="refuse unless it is significantly better than the version in production")
    @argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    @_output_options
    @line_magic
    def promote(self, line: str) -> Any:
        """Put a saved version in production; with test data, record the evidence of a paired test.

        Examples::

            %promote rf:3
            %promote rf:3 X_test y_test --require-better
        """
        args = _parse(self.promote, line)
        if len(args.words) not in (1, 3):
            raise UsageError("Expected %promote REF [X_test y_test] [--require-better].")
        X = y = None
        if len(args.words) == 3:
            X = lookup(args.words[1], self.user_ns, "X_test")
            y = lookup(args.words[2], self.user_ns, "y_test")
        with _user_errors("Not promoted", service=self.service, refs=args.words[:1]):
            row = self.service.promote(args.words[0], X_test=X, y_test=y, require_better=args.require_better,
                                       alpha=args.alpha)
            rows = self.service.list_models(model_id=row["model_id"], order_by="-version")
        evidence = [e for e in self.service.model_history(f"{row['model_id']}:{row['version']}")
                    if e["to_status"] == "production"]
        said = _evidence_text((evidence[-1].get("details") or {}).get("promotion") if evidence else None)
        ref = f"{row['model_id']}:{row['version']}"
        return self._emit(RegistryTable(rows, description=f"{ref} in production{said}"), args)

    @magic_arguments()
    @argument("model_id", metavar="ID", help="the model id whose production version goes back one step")
    @_output_options
    @line_magic
    def rollback(self, line: str) -> Any:
        """Put back in production the version that was there before the current one (from the history).

        Example::

            %rollback rf
        """
        args = _parse(self.rollback, line)
        with _user_errors("Not rolled back", service=self.service, refs=[args.model_id]):
            ref = self.service.rollback(args.model_id)
            rows = self.service.list_models(model_id=args.model_id, order_by="-version")
        return self._emit(RegistryTable(rows, description=f"rolled back: {ref} in production again"), args)


def _evidence_text(evidence: Any) -> str:
    """`` (accuracy 0.95 vs 0.91 of rf:2, exact McNemar p = 0.003, n = 143)`` or nothing."""
    if not isinstance(evidence, dict) or not evidence.get("compared_with"):
        return ""
    return (f" ({evidence['metric']} {evidence['challenger_value']:.4f} vs {evidence['champion_value']:.4f} "
            f"of {evidence['compared_with']}, {evidence['test']} p = {evidence['p_value']:.3g}, "
            f"n = {evidence['n_samples']})")


def _no_display() -> None:
    """Render nothing: the magic has displayed this result already."""

