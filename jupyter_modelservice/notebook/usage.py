"""Reading a magic's line and reporting what is wrong with it, in the user's words.

The magics' argument errors name what is missing (the model id, not "y_test"),
show the usage line, suggest close names (model ids, estimator parameters) and
speak of the user's variables (``X_small``), not of the service's parameters
(``X_test``). The service's errors become one-paragraph ``UsageError``\\ s.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicHelpFormatter

from ..exceptions import ModelNotFoundError, ModelServiceError
from .resolve import output_name, split_line

if TYPE_CHECKING:
    from ..service import ModelService

__all__ = ["MagicHelp", "check_params", "default_params", "parse_line", "plain_help", "usage_line", "user_errors"]


class MagicHelp(MagicHelpFormatter):
    """``%magic?`` help as plain text: ``usage: %train ...`` (IPython's prefix is a reST ``::``),
    and positional arguments described one by one.

    A positional argument whose help holds lines of ``NAME<TAB>text`` is listed
    as one entry per line, so ``MODEL``, ``X``, ``y`` and ``key=value`` each get
    their own line although argparse reads them as one list of words.
    """

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = "usage: %") -> None:
        super().add_usage(usage, actions, groups, prefix)

    def add_argument(self, action: argparse.Action) -> None:
        if not action.option_strings and action.help and "\t" in action.help:
            for entry in action.help.split("\n"):
                name, _, text = entry.partition("\t")
                super().add_argument(argparse.Action([], dest=name, metavar=name, help=text))
            return
        super().add_argument(action)


def plain_help(cls: type) -> type:
    """Class decorator: every magic of ``cls`` gets the help of `MagicHelp` (``usage: %train ...``,
    and ``Examples:`` rather than reST's ``Examples::``)."""
    for func in vars(cls).values():
        parser = getattr(func, "parser", None)
        if parser is not None:
            parser.formatter_class = MagicHelp
            func.__doc__ = re.sub(r"(\w)::\n", r"\1:\n", parser.format_help())
    return cls


def usage_line(magic: Any) -> str:
    """The usage line(s) of a magic, as ``%magic?`` starts."""
    return magic.parser.format_usage().strip()


def _positionals(parser: argparse.ArgumentParser, words: Sequence[str]) -> list[str]:
    """The words of a line that are not options or option values."""
    options = parser._option_string_actions  # noqa: SLF001 - argparse keeps no public map
    found, skip = [], 0
    for word in words:
        if skip:
            skip -= 1
        elif word.startswith("-") and word.split("=", 1)[0] in options:
            action = options[word.split("=", 1)[0]]
            if "=" not in word:
                skip = action.nargs if isinstance(action.nargs, int) else 1  # flags have nargs 0
        else:
            found.append(word)
    return found


def parse_line(magic: Any, line: str) -> Any:
    """Parse ``line`` for ``magic``, options allowed between the positional words.

    The line is split like a shell's (``--dir "my models"``), see `split_line`.
    A missing positional argument is named (``the model id is missing``),
    with the usage line.
    """
    parser = magic.parser
    words = split_line(line)
    try:
        args = parser.parse_intermixed_args(words)
    except UsageError as err:
        if "required" not in str(err):
            raise
        expected = [a.metavar or a.dest for a in parser._actions if not a.option_strings]  # noqa: SLF001
        given = _positionals(parser, words)
        missing = expected[len(given):] if len(given) < len(expected) else expected
        what = ("The model id is missing" if len(given) == len(expected) - 1 and expected[0] == "REF"
                else f"Missing {' '.join(missing)}")
        got = f"got {' '.join(given)}" if given else "got nothing"
        raise UsageError(f"{what}: %{parser.prog} takes {' '.join(expected)} ({got}).\n"
                         f"{usage_line(magic)}") from None
    output_name(args.output)  # a bad -o NAME is reported before any work is done
    return args


@contextmanager
def user_errors(action: str, *, service: ModelService | None = None, refs: Sequence[str] = (),
                names: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn the service's errors into a one-paragraph ``UsageError``.

    Parameters
    ----------
    action : str
        What failed (``"Cannot evaluate rf"``); not repeated when the message starts with it.
    service : ModelService, optional
        Where to look for ids close to an unknown one in ``refs`` ("did you mean").
    refs : sequence of str
        The model references of the line.
    names : mapping, optional
        The service's names of the data (``X_test``, ``y``) → the user's variables (``X_small``).
    """
    try:
        yield
    except ModelNotFoundError as err:
        hint = _close_ids(service, refs) if service is not None else ""
        raise UsageError(_message(action, f"{err}{hint}", names) + (
            "" if hint else " (%models lists the registered models.)")) from err
    except ModelServiceError as err:
        raise UsageError(_message(action, str(err), names)) from err


def _message(action: str, text: str, names: Mapping[str, str] | None) -> str:
    for name, user in (names or {}).items():
        if user and user != name:
            text = re.sub(rf"(?<![\w.']){re.escape(name)}(?![\w'])", user.replace("\\", "\\\\"), text)
    head = action.split(" ")[:2]
    if text.split(" ")[:2] == head:  # "Cannot compare classification and ..." says it already
        return text
    return f"{action}: {text}"


def _close_ids(service: ModelService, refs: Sequence[str]) -> str:
    """`` Did you mean 'logreg'?`` for an id of ``refs`` that the registry does not know, else ``""``."""
    try:
        known = {str(r["model_id"]) for r in service.registry.list(latest_only=True)}
    except ModelServiceError:
        return ""
    hints = []
    for ref in refs:
        model_id = ref.rpartition(":")[0] if ":" in ref else ref
        if model_id not in known:
            close = difflib.get_close_matches(model_id, sorted(known), n=3, cutoff=0.6)
            if close:
                which = f" for {model_id!r}" if len(refs) > 1 else ""
                hints.append(f"Did you mean {' or '.join(repr(c) for c in close)}{which}?")
    return (" " + " ".join(hints)) if hints else ""


def _param_names(estimator: Any) -> list[str] | None:
    """The parameters ``estimator`` (a class or an instance) accepts; None when any name goes."""
    if not isinstance(estimator, type):
        try:
            return list(estimator.get_params(deep=True))
        except Exception:  # not a scikit-learn estimator: let it decide
            return None
    names = getattr(estimator, "_get_param_names", None)
    if names is not None:
        try:
            return list(names())
        except Exception:  # a class that overrides it oddly: fall back on the signature
            pass
    try:
        parameters = inspect.signature(estimator).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_params(estimator: Any, params: Mapping[str, Any]) -> None:
    """Refuse parameters the estimator does not take, naming the close ones.

    >>> from sklearn.ensemble import RandomForestClassifier
    >>> check_params(RandomForestClassifier, {"n_estimator": 100})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    IPython.core.error.UsageError: RandomForestClassifier has no parameter 'n_estimator'; did you mean n_estimators? ...
    """
    names = _param_names(estimator)
    if names is None:
        return
    unknown = [key for key in params if key not in names]
    if not unknown:
        return
    label = estimator.__name__ if isinstance(estimator, type) else type(estimator).__name__
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=2, cutoff=0.6)
        parts.append(f"{key!r}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    listed = f"{label}().get_params()" if isinstance(estimator, type) else f"{label}.get_params()"
    raise UsageError(f"{label} has no parameter {', '.join(parts)} ({listed} lists the parameters).")


def default_params(estimator: Any) -> dict[str, Any] | None:
    """The parameters of ``estimator``'s class at their defaults, as the registry records them, or None."""
    from ..training import json_params

    cls = estimator if isinstance(estimator, type) else type(estimator)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    defaults = {name: p.default for name, p in signature.parameters.items()
                if p.default is not inspect.Parameter.empty}

    class _Defaults:  # json_params reads get_params(): the same conversion as the recorded values
        @staticmethod
        def get_params(deep: bool = False) -> dict[str, Any]:
            return defaults

    return json_params(_Defaults())
