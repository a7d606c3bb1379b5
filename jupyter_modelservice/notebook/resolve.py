"""Turn the words of a magic line into Python objects: estimators, data and parameters.

Every problem with the user's input raises :class:`IPython.core.error.UsageError`
with a message that says what to type instead; IPython shows it as one
paragraph, without a traceback.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import io
import keyword
import re
import shlex
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "evaluate_cell",
    "lookup",
    "output_name",
    "parse_params",
    "resolve_estimator",
    "sklearn_estimators",
    "split_line",
    "split_params",
]

#: A ``key=value`` word: an identifier, ``=`` (not ``==``), anything.
_PARAM = re.compile(r"[A-Za-z_]\w*=(?!=)")
#: An option word: ``-o``, ``--dir``, ``--dir=VALUE``.
_OPTION = re.compile(r"--?[A-Za-z]")
#: A backslash that escapes what a shell would otherwise split or strip (not the one in ``C:\models``).
_ESCAPE = re.compile(r"\\[\s'\"\\]")
#: Names IPython keeps for itself: the output and input history, its own objects.
_IPYTHON_NAMES = re.compile(r"_+|_i+|_i?\d+|_[iod]h|_sh|In|Out|get_ipython|exit|quit")


@lru_cache(maxsize=1)
def sklearn_estimators() -> dict[str, type]:
    """Every public scikit-learn estimator class by name (computed once; takes ~0.5 s)."""
    from sklearn.utils import all_estimators

    return dict(all_estimators())


def split_params(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split magic words into positionals and ``key=value`` items.

    The items start at the first ``key=value`` word; a value written with
    spaces (``hidden_layer_sizes=(64, 32)``) arrives as several words and is
    joined back together.

    >>> split_params(["RandomForestClassifier", "X", "y", "n_estimators=10", "max_depth=3"])
    (['RandomForestClassifier', 'X', 'y'], ['n_estimators=10', 'max_depth=3'])
    >>> split_params(["MLPClassifier", "X", "y", "hidden_layer_sizes=(64,", "32)"])
    (['MLPClassifier', 'X', 'y'], ['hidden_layer_sizes=(64, 32)'])
    """
    for i, word in enumerate(words):
        if _PARAM.match(word):
            rest = " ".join(words[i:])
            return list(words[:i]), re.split(r"\s+(?=[A-Za-z_]\w*=(?!=))", rest)
    return list(words), []


def lookup(expression: str, namespace: dict[str, Any], role: str) -> Any:
    """The value of a variable (or a simple expression such as ``df[cols]``) in the namespace.

    Parameters
    ----------
    expression : str
        A variable name, or an expression evaluated in ``namespace``.
    namespace : mapping
        The notebook's namespace.
    role : str
        What the value is for (``"X"``, ``"y_test"``), used in messages.

    Raises
    ------
    UsageError
        When the name is not defined or the expression fails.
    """
    if expression.isidentifier():
        if expression in namespace:
            return namespace[expression]
        close = difflib.get_close_matches(expression, [k for k in namespace if not k.startswith("_")], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"No variable named {expression!r} (for {role}) in the notebook.{hint}")
    try:
        return eval(expression, namespace)  # the user's own expression, in their namespace
    except Exception as err:
        raise UsageError(
            f"Could not evaluate {expression!r} (for {role}): {type(err).__name__}: {err}"
        ) from err


def resolve_estimator(name: str, namespace: Mapping[str, Any]) -> Any:
    """The estimator class or unfitted estimator that ``name`` designates.

    Looked up, in order: a variable of the notebook holding a class or an
    estimator (a Pipeline, ...), a dotted path (``xgboost.XGBClassifier``), a
    scikit-learn estimator class name (``RandomForestClassifier``).

    Raises
    ------
    UsageError
        With close matches when the name is unknown.
    """
    if name.isidentifier() and name in namespace:
        value = namespace[name]
        if isinstance(value, type) or hasattr(value, "fit"):
            return value
        raise UsageError(
            f"The variable {name!r} holds a {type(value).__name__}, not an estimator: use an "
            "estimator class (RandomForestClassifier), an unfitted estimator or a Pipeline."
        )
    if "." in name:
        return _import_path(name)
    estimators = sklearn_estimators()
    if name in estimators:
        return estimators[name]
    close = difflib.get_close_matches(name, list(estimators), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(
        f"Unknown model {name!r}: it is neither a variable of the notebook nor a scikit-learn "
        f"estimator.{hint} Other libraries need a dotted path such as xgboost.XGBClassifier."
    )


def _import_path(path: str) -> Any:
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise UsageError(f"Cannot import {module_name!r} for model {path!r}: {err}") from err
    try:
        return getattr(module, attribute)
    except AttributeError as err:
        raise UsageError(f"Module {module_name!r} has no {attribute!r} (model {path!r}).") from err


def parse_params(items: Sequence[str], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """``["n_estimators=100", "criterion='gini'", "cv=folds"]`` → a dict of parameters.

    The items are read as the keyword arguments of one call (one :func:`ast.parse`);
    each value is a Python literal (:func:`ast.literal_eval`, nested containers
    included) or the name of a notebook variable.

    >>> parse_params(["n_estimators=100", "criterion='gini'", "class_weight={0: 1, 1: 3}"], {})
    {'n_estimators': 100, 'criterion': 'gini', 'class_weight': {0: 1, 1: 3}}
    """
    pairs = [item.partition("=") for item in items]
    texts: dict[str, str] = {}
    for item, (key, sep, text) in zip(items, pairs):
        if not sep or not key.isidentifier() or keyword.iskeyword(key):
            raise UsageError(f"Expected key=value, got {item!r} (for example n_estimators=100).")
        if key in texts:
            raise UsageError(f"Parameter {key!r} is given twice.")
        if not text.strip():
            raise _bad_value(key, text)
        texts[key] = text
    # each value alone in its parentheses, a comment after it ending with its line
    source = "_(" + ", ".join(f"{key}=({text}\n)" for key, text in texts.items()) + ")"
    try:
        call = ast.parse(source, mode="eval").body
    except SyntaxError:
        raise _bad_item(texts) from None
    # a value may close its own parentheses and add keywords or more code (a=1), b=(2): refused
    if (not isinstance(call, ast.Call) or call.args
            or [kw.arg for kw in call.keywords] != list(texts)):
        raise _bad_item(texts)
    params: dict[str, Any] = {}
    for kw in call.keywords:
        key, text = str(kw.arg), texts[str(kw.arg)]
        try:
            params[key] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, MemoryError, RecursionError) as err:
            if isinstance(kw.value, ast.Name) and kw.value.id in namespace:
                params[key] = namespace[kw.value.id]
            else:
                raise _bad_value(key, text) from err
    return params


def _bad_item(texts: Mapping[str, str]) -> UsageError:
    """The error naming the first ``key=value`` pair whose value Python cannot read."""
    for key, text in texts.items():
        try:  # alone, a value must still be one keyword (not a=1), b=(2 nor a=1))+_((2)
            call = ast.parse(f"_({key}=({text}\n))", mode="eval").body
        except SyntaxError:
            return _bad_value(key, text)
        if not isinstance(call, ast.Call) or call.args or [kw.arg for kw in call.keywords] != [key]:
            return _bad_value(key, text)
    return UsageError(f"Cannot read the parameters {' '.join(k + '=' + t for k, t in texts.items())!r}: "
                      "write them as key=value, e.g. n_estimators=100 max_depth=3.")


def _bad_value(key: str, text: str) -> UsageError:
    return UsageError(f"Bad value in {key + '=' + text!r}: use a Python literal such as 100, 0.5, 'gini', "
                      f"None or (64, 32), or the name of a notebook variable (quote text: {key}='{text}').")


def evaluate_cell(source: str, namespace: dict[str, Any]) -> Any:
    """Run a cell body in the notebook namespace and return the value of its last expression.

    Statements before the last line run first, so a body may import what it uses.
    ``source`` is Python: a cell magic passes its body through ``shell.transform_cell``
    first, so that IPython syntax (``!ls``, ``%time``, ``x = %sx ...``) works in it.

    Raises
    ------
    UsageError
        When the cell does not end with an expression or raises.
    """
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        raise UsageError(f"The cell is not valid Python: {err}") from err
    final = tree.body[-1] if tree.body else None
    if not isinstance(final, ast.Expr):
        raise UsageError(
            "The cell must end with an expression that builds the estimator, "
            "e.g. make_pipeline(StandardScaler(), LogisticRegression())."
        )
    tree.body.pop()
    last = ast.Expression(final.value)
    try:
        exec(compile(tree, "<cell>", "exec"), namespace)  # the user's own code, in their namespace
        return eval(compile(last, "<cell>", "eval"), namespace)
    except Exception as err:
        raise UsageError(f"The cell raised {type(err).__name__}: {err}") from err


def split_line(line: str) -> list[str]:
    """The words of a magic line, split like a POSIX shell, Python values kept as written.

    Quotes and backslashes group words and are removed (``--dir "my models"``
    gives the folder ``my models``), except inside Python: a ``key=value``
    item and the words that continue it, and an expression such as
    ``X[['a b','c']]``, keep their quotes for Python to read.

    >>> split_line("--dir 'my models' max_depth=3 criterion='gini'")
    ['--dir', 'my models', 'max_depth=3', "criterion='gini'"]

    Raises
    ------
    UsageError
        When a quote is not closed.
    """
    source = io.StringIO(line)
    lexer = shlex.shlex(source, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # "#" is text here (URLs, Python)
    words: list[str] = []
    start = 0
    in_python = False  # inside a key=value item, which may run over several words
    while True:
        try:
            word = lexer.get_token()
        except ValueError as err:
            raise UsageError(f"Cannot read the line {line!r}: {err}; close the quote, or escape it "
                             "with a backslash.") from err
        if word is None:
            return words
        end = source.tell()
        raw, start = line[start:end].strip(), end
        if _OPTION.match(raw):
            in_python = False
        elif _PARAM.match(raw):
            in_python = True
        shell_word = not in_python and (raw[0] in "'\"" or bool(_OPTION.match(raw) or _ESCAPE.search(raw)))
        words.append(word if shell_word else raw)


def output_name(name: str | None) -> str | None:
    """Check the ``-o NAME`` of a magic: a free Python variable name.

    Refused: what is not an identifier, keywords, names starting with ``__``
    (``__builtins__``, ``__name__``) and the names IPython uses itself (``_``,
    ``_i3``, ``Out``, ``get_ipython``...), which storing a result would break.
    """
    if name is None:
        return name
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"-o needs a variable name such as result, got {name!r}.")
    if name.startswith("__") or _IPYTHON_NAMES.fullmatch(name):
        raise UsageError(f"-o {name} would replace a name that Python or IPython uses itself; "
                         "choose another variable name, such as result.")
    return name
