"""``%diff A B [X [y]]``: what differs between two model versions, and only that;
``%reproduce REF X y``: whether a version refitted on its data predicts what it predicts.

Thin wiring over `ModelService.diff`: parse, call, return a
:class:`~jupyter_modelservice.display.DiffResult`. It shares the service,
the ``-q`` / ``-o NAME`` options and the error handling of
:class:`~jupyter_modelservice.notebook.magics.ModelServiceMagics`, which it
is registered beside.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, kwds, magic_arguments

from ..display import DiffResult, ReproductionResult
from .interrupts import interruptible
from .magic_output import output_options, present
from .owned import OwnedMagics
from .resolve import lookup
from .usage import parse_line, user_errors

__all__ = ["DiffMagics"]


@magics_class
class DiffMagics(OwnedMagics):
    """The ``%diff`` and ``%reproduce`` magics, using the service of the extension's main magics
    (`OwnedMagics`)."""

    @magic_arguments()
    @kwds(usage="%(prog)s A B [X [y]] [options]")
    @argument("a", metavar="A", help="model id (latest version) or id:version")
    @argument("b", metavar="B", help="the other version")
    @argument("data", nargs="*", metavar="X [y]",
              help="notebook variables: with X, the rows where the two predictions disagree; with y too, "
                   "the metric differences with their paired bootstrap intervals")
    @argument("--refresh", action="store_true",
              help="predict again even when both versions were already evaluated on these data")
    @output_options
    @no_var_expand
    @line_magic
    def diff(self, line: str) -> DiffResult:
        """Show what differs between two model versions: class, parameters (``step__param`` for
        pipelines), training data, library versions and stored scores; with test data, where
        their predictions disagree and how much their metrics differ.

        Examples::

            %diff rf:1 rf:2
            %diff scaled_logreg forest X_test y_test
            %diff ridge:1 ridge:2 X_new
        """
        args = parse_line(self.diff, line)
        if len(args.data) > 2:
            raise UsageError(f"Expected %diff A B [X [y]], got {len(args.data)} data variables; see %diff?.")
        namespace = self.owner.user_ns
        X = lookup(args.data[0], namespace, "X") if args.data else None
        y = lookup(args.data[1], namespace, "y") if len(args.data) > 1 else None
        with user_errors(f"Cannot diff {args.a} and {args.b}", service=self.owner.service, refs=[args.a, args.b]), \
                interruptible(f"comparing {args.a} and {args.b}"):
            data = self.owner.service.diff(args.a, args.b, X, y, refresh=args.refresh)
        return present(self.shell, DiffResult(data), args)

    @magic_arguments()
    @kwds(usage="%(prog)s REF X y [options]")
    @argument("ref", metavar="REF", help="model id (latest version) or id:version")
    @argument("X", help="the notebook variable of the features the version was trained on")
    @argument("y", help="the notebook variable of its target")
    @argument("--atol", type=float, default=1e-9,
              help="largest difference of a predicted number or probability still counted as equal "
                   "(default 1e-9)")
    @output_options
    @no_var_expand
    @line_magic
    def reproduce(self, line: str) -> ReproductionResult:
        """Refit a version on the data it was trained on and say whether it predicts the same.

        The data must have the fingerprint recorded at training (if not, how it
        differs is shown and nothing is refitted); the refit is an unfitted copy
        of the stored model on the recorded training split. The outcome is
        recorded in the version's history.

        Example::

            %reproduce forest X_train y_train
        """
        args = parse_line(self.reproduce, line)
        namespace = self.owner.user_ns
        X, y = lookup(args.X, namespace, "X"), lookup(args.y, namespace, "y")
        with user_errors(f"Cannot reproduce {args.ref}", service=self.owner.service, refs=[args.ref]), \
                interruptible(f"reproducing {args.ref}"):
            data = self.owner.service.reproduce(args.ref, X, y, atol=args.atol)
        return present(self.shell, ReproductionResult(data), args)
