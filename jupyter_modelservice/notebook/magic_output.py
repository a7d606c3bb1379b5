"""What a magic does with its result: ``-o NAME`` stores it, and it is shown exactly once.

A magic returns its result, like any expression (``%timeit -o``). When the
magic is the value of its cell (its last expression, under IPython's default
``ast_node_interactivity``), IPython's displayhook shows that value, as ``Out[n]``
and ``_``. Anywhere else (``r = %train ...``, a magic in the middle of a cell)
nothing would show it, so the magic displays it itself with ``display``. ``-q``
shows nothing: the result is returned only where IPython would not show it.
"""

from __future__ import annotations

import ast
import sys
from types import FrameType
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.magic_arguments import argument
from IPython.display import display

__all__ = ["ipython_shows_the_value", "output_options", "present"]

#: The methods IPython's input transformer turns ``%magic`` / ``%%magic`` into.
_MAGIC_CALLS = ("run_line_magic", "run_cell_magic")


def output_options(func: Any) -> Any:
    """The ``-q`` / ``-o NAME`` options every magic shares."""
    func = argument("-o", "--output", metavar="NAME",
                    help="store the result object in the notebook variable NAME")(func)
    return argument("-q", "--quiet", action="store_true", help="do not display the result")(func)


def present(shell: Any, result: Any, args: Any) -> Any:
    """Store ``result`` for ``-o NAME``; show it once (unless ``-q``); return what the magic returns."""
    if args.output:
        shell.user_ns[args.output] = result
    if ipython_shows_the_value(shell):
        return None if args.quiet else result
    if not args.quiet:
        display(result)
    return result


def ipython_shows_the_value(shell: Any) -> bool:
    """Whether IPython's displayhook will show what the magic running now returns.

    True when the statement that called the magic is one whose value IPython
    displays: the cell's last expression by default, every expression with
    ``ast_node_interactivity = "all"``, the last assignment too with
    ``"last_expr_or_assign"``; never in a silent run or after a trailing ``;``.
    """
    running = getattr(shell.displayhook, "exec_result", None)
    caller = _cell_frame(shell)
    if running is None or caller is None or running.info.silent:
        return False
    cell = getattr(running.info, "transformed_cell", None) or shell.transform_cell(running.info.raw_cell)
    try:
        body = ast.parse(cell).body
    except SyntaxError:
        return False
    if not body or _ends_with_semicolon(cell):
        return False
    mode, last = shell.ast_node_interactivity, body[-1]
    shown_types: tuple[type[ast.stmt], ...] = (ast.Expr,)
    if mode == "last_expr_or_assign":  # IPython shows the assigned name's value too
        shown_types = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign)
    shown: list[ast.stmt] = []
    if mode == "all":
        shown = [node for node in body if isinstance(node, ast.Expr)]
    elif mode != "none" and isinstance(last, shown_types):
        shown = [last]
    line = caller.f_lineno
    return any(node.lineno <= line <= (node.end_lineno or node.lineno) and _calls_a_magic(node)
               for node in shown)


def _ends_with_semicolon(cell: str) -> bool:
    """Whether a trailing ``;`` silences the cell's value (IPython's own test where it has one)."""
    check = getattr(DisplayHook, "semicolon_at_end_of_expression", None)
    return bool(check(cell)) if check is not None else cell.rstrip().endswith(";")


def _calls_a_magic(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr in _MAGIC_CALLS)


def _cell_frame(shell: Any) -> FrameType | None:
    """The frame of the cell's code that called the running magic (None when code of the user's
    own functions, or no cell, called it)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name in _MAGIC_CALLS
                                     and frame.f_locals.get("self") is shell):
        frame = frame.f_back
    caller = None if frame is None else frame.f_back
    if caller is None or caller.f_code.co_name != "<module>" or caller.f_globals is not shell.user_ns:
        return None
    runner = caller.f_back  # the cell's own code runs in the shell's run_code; a cell magic's body
    if runner is None or runner.f_code.co_name != "run_code" or runner.f_locals.get("self") is not shell:
        return None  # (%%time, %%train) runs elsewhere, and IPython does not display its values
    return caller
