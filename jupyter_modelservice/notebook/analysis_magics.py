"""``%evaluate``, ``%compare`` and ``%importance``: what a registered model does on data.

Registered beside :class:`~jupyter_modelservice.notebook.magics.ModelServiceMagics`,
whose service they use (`OwnedMagics`). Each parses its line, calls the service
and returns a result object from :mod:`jupyter_modelservice.display` (see
:mod:`.magic_output` for how it is shown).
"""

from __future__ import annotations

import warnings

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, kwds, magic_arguments

from ..display import ComparisonResult, CVComparisonResult, EvaluationResult, ImportanceResult
from ..exceptions import NoImportanceWarning
from ..metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from .interrupts import MagicInterrupted, interruptible
from .magic_output import output_options, present
from .owned import OwnedMagics
from .progress import progress_bar
from .resolve import lookup
from .usage import parse_line, plain_help, usage_line, user_errors

__all__ = ["AnalysisMagics"]


@magics_class
@plain_help
class AnalysisMagics(OwnedMagics):
    """The ``%evaluate``, ``%compare`` and ``%importance`` magics, using the service of the extension's
    main magics (`OwnedMagics`)."""

    # -- %evaluate -------------------------------------------------------------
    @magic_arguments()
    @argument("ref", metavar="REF", help="model id (latest version) or id:version")
    @argument("X_test", help="notebook variable of the test features")
    @argument("y_test", help="notebook variable of the test target")
    @argument("--task", choices=("classification", "regression"),
              help="task type (default: the one recorded at training)")
    @output_options
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
        args = parse_line(self.evaluate, line)
        namespace = self.owner.user_ns
        X = lookup(args.X_test, namespace, "X_test")
        y = lookup(args.y_test, namespace, "y_test")
        service = self.owner.service
        names = {"X_test": args.X_test, "y_test": args.y_test, "X": args.X_test, "y": args.y_test}
        with user_errors(f"Cannot evaluate {args.ref}", service=service, refs=[args.ref], names=names), \
                interruptible(f"evaluating {args.ref}"):
            data = service.evaluate_model(X, y, model_id=args.ref, task_type=args.task,
                                          return_predictions=True)
        return present(self.shell, EvaluationResult.from_evaluation(data, y), args)

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
    @output_options
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
        args = parse_line(self.compare, line)
        if args.cv:
            with user_errors("Cannot compare", service=self.owner.service, refs=args.words):
                frame = self.owner.service.compare_cv(args.words, scoring=args.sort)
            return present(self.shell, CVComparisonResult(frame), args)
        if len(args.words) < 3:
            what = "The model ids are missing" if len(args.words) == 2 else "Expected REF [REF ...] X_test y_test"
            raise UsageError(f"{what}: %compare takes REF [REF ...] X_test y_test (got "
                             f"{' '.join(args.words)}).\n{usage_line(self.compare)}")
        if args.sort and args.sort not in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS):
            raise UsageError(f"Cannot sort by {args.sort!r}: choose one of "
                             f"{', '.join(CLASSIFICATION_METRICS + REGRESSION_METRICS)}.")
        *refs, x_name, y_name = args.words
        namespace = self.owner.user_ns
        X = lookup(x_name, namespace, "X_test")
        y = lookup(y_name, namespace, "y_test")
        service = self.owner.service
        names = {"X_test": x_name, "y_test": y_name, "X": x_name, "y": y_name}
        with user_errors("Cannot compare", service=service, refs=refs, names=names), \
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
        return present(self.shell, result, args)

    # -- %importance -----------------------------------------------------------
    @magic_arguments()
    @argument("ref", metavar="REF", help="model id (latest version) or id:version")
    @argument("--names", metavar="VAR",
              help="notebook variable with the feature names (default: the training columns)")
    @argument("--top", type=int, default=20, metavar="N", help="features shown (default 20)")
    @argument("--permutation", nargs=2, metavar=("X", "y"),
              help="permutation importance on these data (works for any estimator)")
    @output_options
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
        args = parse_line(self.importance, line)
        if args.top < 1:
            raise UsageError("--top needs a positive number of features.")
        namespace = self.owner.user_ns
        names = lookup(args.names, namespace, "--names") if args.names else None
        if names is not None:
            names = [str(n) for n in getattr(names, "columns", names)]
        X = y = None
        if args.permutation:
            X = lookup(args.permutation[0], namespace, "X")
            y = lookup(args.permutation[1], namespace, "y")
        service = self.owner.service
        data_names = dict(zip(("X", "y"), args.permutation or ()))
        with user_errors(f"Cannot compute the importances of {args.ref}", service=service, refs=[args.ref],
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
        return present(self.shell, ImportanceResult(values, ref=ref, top=args.top), args)
