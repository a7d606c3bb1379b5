"""``%train`` and ``%cv``: fit or cross-validate a model from a line (or a cell) of the notebook.

Registered beside :class:`~jupyter_modelservice.notebook.magics.ModelServiceMagics`,
whose service they use; ``-q`` / ``-o NAME`` and the error wording are those of every magic.
A failed or interrupted ``%train`` leaves nothing half-done: the version it
registered is saved only after its cross-validation, and removed again when
something stops it before (see :mod:`.interrupts`).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, kwds, magic_arguments

from ..display import CVResult, TrainResult
from ..ids import parse_ref
from .interrupts import MagicInterrupted, rollback_version
from .magic_output import output_options, present
from .owned import OwnedMagics
from .progress import progress_bar
from .resolve import evaluate_cell, lookup, parse_params, resolve_estimator, split_params
from .usage import check_params, default_params, parse_line, plain_help, usage_line, user_errors

__all__ = ["TrainingMagics"]

SAVE_FORMATS = ("joblib", "pickle", "skops")
#: Keywords of train_model / cross_validate_model that have an option of their own.
_RESERVED_PARAMS = {"model_id": "--id", "validation_split": "--validation-split",
                    "cv_folds": "--folds", "scoring": "--scoring", "n_jobs": "--n-jobs",
                    "progress": None, "model_class": None, "X": None, "y": None}
#: The positional arguments of %train and %cv, one help entry each (see `MagicHelp`).
_MODEL_X_Y = ("MODEL\ta scikit-learn class name (RandomForestClassifier), a dotted path "
              "(xgboost.XGBClassifier) or a notebook variable holding a class or an unfitted estimator "
              "or Pipeline; the cell form (%%%%train X y) takes it from the cell\n"
              "X\tthe notebook variable (or expression) of the features\n"
              "y\tthe notebook variable (or expression) of the target\n"
              "key=value\testimator parameters after X y: Python literals or notebook variable names")


@magics_class
@plain_help
class TrainingMagics(OwnedMagics):
    """The ``%train`` and ``%cv`` magics, using the service of the extension's main magics (`OwnedMagics`)."""

    @magic_arguments()
    @kwds(usage="%(prog)s MODEL X y [options] [key=value ...]\n"
                "       %%%%%(prog)s X y [options] [key=value ...]   (cell: an expression building the estimator)")
    @argument("words", nargs="+", metavar="MODEL X y", help=_MODEL_X_Y)
    @argument("--id", dest="model_id", metavar="ID",
              help="registry id; training an existing id adds a version (default: generated, e.g. "
                   "randomforest-3)")
    @argument("--validation-split", type=float, default=0.2, metavar="F",
              help="fraction of rows held out to score the model (default 0.2; 0 uses every row)")
    @argument("--folds", "--cv", dest="folds", type=int, metavar="K",
              help="also run a K-fold cross-validation, recorded on the version before it is saved")
    @argument("--scoring", metavar="S",
              help="scikit-learn scoring(s) for --folds, comma separated (default accuracy / r2)")
    @argument("--format", choices=SAVE_FORMATS, default="joblib", help="file format (default joblib)")
    @argument("--no-save", action="store_true", help="register the version without writing its file")
    @argument("--from", dest="parent", metavar="REF",
              help="retrain the class and parameters of version REF (id or id:N) on X y: %%train --from rf:3 "
                   "X y; the new version records REF as its parent and is added to REF's id unless --id")
    @output_options
    @no_var_expand
    @line_cell_magic
    def train(self, line: str, cell: str | None = None) -> TrainResult:
        """Train a model, save it to the registry and show its scores.

        The cell form trains the estimator that the cell's last expression builds.
        With --folds K (or --cv K) the cross-validation runs before the version
        is saved: an error or an interrupt leaves nothing behind.

        Examples::

            %train RandomForestClassifier X_train y_train --id rf n_estimators=200 max_depth=8
            %train LogisticRegression X_train y_train --id lr --folds 5 max_iter=5000

            %%train X_train y_train --id scaled_lr
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))

            %train --from rf:3 X_new y_new          # rf:3's class and parameters, new data: rf:N+1
        """
        args = parse_line(self.train, line)
        if args.scoring and not args.folds:  # before the cell runs
            raise UsageError("--scoring applies to cross-validation: add --folds K (e.g. --folds 5).")
        estimator, X, y, params, names = self._model_and_data(args.words, cell, "train", parent=args.parent)
        service = self.owner.service
        model_id = args.model_id or (parse_ref(args.parent).model_id if args.parent else None)
        data: dict[str, Any] | None = None
        stage, kept = "while training", None  # kept: what the finished version is ("saved", "registered")
        try:
            with user_errors("Training failed", names=names):
                data = service.train_model(estimator, X, y, model_id=model_id, parent=args.parent,
                                           validation_split=args.validation_split, **params)
            ref = f"{data['model_id']}:{data['version']}"
            cv = None
            if args.folds:  # before saving: a failed or interrupted CV leaves no saved version
                stage = "during cross-validation"
                cv = self._cross_validate(estimator, X, y, args.folds, args.scoring, None, params,
                                          model_id=ref, names=names, quiet=args.quiet)
            if not args.no_save:
                stage = "while saving"
                with user_errors(f"Saving {ref} failed"):
                    service.save_model(data["model_id"], save_format=args.format, version=data["version"])
                row = service.model_metadata  # the trained version is current; save_model updated it
                data.update({k: row[k] for k in ("status", "file_format", "file_path")})
            kept = "registered (--no-save)" if args.no_save else "saved"
            stage = "after training"
            result = TrainResult(data, cv, defaults=default_params(estimator))
        except KeyboardInterrupt as interrupt:
            where = str(interrupt) if isinstance(interrupt, MagicInterrupted) else f"Interrupted {stage}"
            raise MagicInterrupted(f"{where}; {self._undo(data, kept)}.") from None
        except UsageError as err:
            if data is None or kept:
                raise
            raise UsageError(f"{err} ({self._undo(data, kept)}.)") from err
        except Exception:
            if data is not None and not kept:
                self._undo(data, kept)
            raise
        return present(self.shell, result, args)

    def _undo(self, data: dict[str, Any] | None, kept: str | None) -> str:
        """Roll back the version a failed %train registered but did not finish; say what is left."""
        if data is None:
            return "nothing was saved"
        ref = f"{data['model_id']}:{data['version']}"
        return f"{ref} was {kept}" if kept else rollback_version(self.owner.service, ref)

    # -- %cv -------------------------------------------------------------------
    @magic_arguments()
    @kwds(usage="%(prog)s MODEL X y [options] [key=value ...]\n"
                "       %%%%%(prog)s X y [options] [key=value ...]   (cell: an expression building the estimator)")
    @argument("words", nargs="+", metavar="MODEL X y", help=_MODEL_X_Y)
    @argument("--folds", "--cv", dest="folds", type=int, default=5, metavar="K",
              help="number of folds (default 5)")
    @argument("--scoring", metavar="S",
              help="scikit-learn scoring(s), comma separated (default accuracy / r2)")
    @argument("--n-jobs", type=int, metavar="N", help="folds run in parallel (-1: every core)")
    @output_options
    @no_var_expand
    @line_cell_magic
    def cv(self, line: str, cell: str | None = None) -> CVResult:
        """Cross-validate a model (nothing is registered) with a per-fold progress bar.

        Examples::

            %cv RandomForestClassifier X y --folds 10 n_estimators=100
            %cv LogisticRegression X y --scoring accuracy,f1_weighted max_iter=5000
        """
        args = parse_line(self.cv, line)
        estimator, X, y, params, names = self._model_and_data(args.words, cell, "cv")
        try:
            result = self._cross_validate(estimator, X, y, args.folds, args.scoring, args.n_jobs, params,
                                          names=names, quiet=args.quiet)
        except KeyboardInterrupt as interrupt:
            where = str(interrupt) if isinstance(interrupt, MagicInterrupted) else "Interrupted"
            raise MagicInterrupted(f"{where}; nothing was recorded.") from None
        return present(self.shell, result, args)

    def _cross_validate(self, estimator: Any, X: Any, y: Any, folds: int, scoring: str | None,
                        n_jobs: int | None, params: dict[str, Any], model_id: str | None = None,
                        names: dict[str, str] | None = None, quiet: bool = False) -> CVResult:
        scorings: str | list[str] | None = scoring
        if scoring and "," in scoring:
            scorings = [s.strip() for s in scoring.split(",") if s.strip()]
        service = self.owner.service
        with user_errors("Cross-validation failed", names=names), \
                progress_bar(folds, "Cross-validation", "folds", shell=self.shell, quiet=quiet) as bar:
            try:
                data = service.cross_validate_model(estimator, X, y, cv_folds=folds, scoring=scorings,
                                                    n_jobs=n_jobs, progress=bar, model_id=model_id,
                                                    **params)
            except KeyboardInterrupt:
                raise MagicInterrupted(f"Interrupted during cross-validation ({bar.done} of {bar.total} folds "
                                       "done)") from None
            result = CVResult(data)
            bar.finish(result.summary())
        return result

    def _model_and_data(self, words: list[str], cell: str | None, magic: str, parent: str | None = None,
                        ) -> tuple[Any, Any, Any, dict[str, Any], dict[str, str]]:
        """Resolve ``MODEL X y key=value...`` (line), ``X y key=value...`` (cell, or ``--from REF``).

        Also returns how the service's names of the data (``X``, ``y``) read in
        the user's words, for error messages.
        """
        if parent is not None and cell is not None:
            raise UsageError(f"--from {parent} takes the model from the registry: use the line form, "
                             f"%{magic} --from {parent} X y, without a cell body.")
        positionals, items = split_params(words)
        expected = ["X", "y"] if cell is not None or parent is not None else ["MODEL", "X", "y"]
        if len(positionals) != len(expected):
            form = (f"%{magic} --from {parent} X y" if parent is not None
                    else f"%%{magic} X y" if cell is not None else f"%{magic} MODEL X y")
            missing = f"Expected {form}"
            if cell is None and parent is None and len(positionals) == 2:  # "X y" or "MODEL X": which is missing
                missing = (f"y is missing: %{magic} takes MODEL X y"
                           if _names_an_estimator(positionals[0], self.owner.user_ns)
                           else f"The model is missing: %{magic} takes MODEL X y")
            raise UsageError(
                f"{missing} [key=value ...], got {' '.join(positionals) or 'nothing'}; "
                f"see %{magic}? for the options.\n{usage_line(getattr(self, magic))}"
            )
        namespace = self.owner.user_ns
        for item in items:
            key = item.partition("=")[0]
            if key in _RESERVED_PARAMS:
                option = _RESERVED_PARAMS[key]
                use = f"use the option {option}" if option else "it is not an estimator parameter"
                raise UsageError(f"{key}= cannot be given as key=value: {use}.")
        params = parse_params(items, namespace)
        X = lookup(positionals[-2], namespace, "X")
        y = lookup(positionals[-1], namespace, "y")
        if parent is not None:  # the stored version, which train_model clones unfitted
            with user_errors(f"Cannot retrain {parent}", service=self.owner.service, refs=[parent]):
                estimator = self.owner.service.get_model(parent)
        elif cell is not None:  # the user's code runs once the cheap checks passed, as IPython code
            assert self.shell is not None, "a registered magic has its shell"
            estimator = evaluate_cell(self.shell.transform_cell(cell), namespace)
        else:
            estimator = resolve_estimator(positionals[0], namespace)
        check_params(estimator, params)
        return estimator, X, y, params, {"X": positionals[-2], "y": positionals[-1]}


def _names_an_estimator(word: str, namespace: dict[str, Any]) -> bool:
    """Whether ``word`` designates an estimator (a class name, a dotted path, a variable holding one)."""
    try:
        resolve_estimator(word, namespace)
    except UsageError:
        return False
    return True
