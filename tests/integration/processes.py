"""Run worker functions in spawned processes that start together."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any


def run_together(target: Callable[..., None], args_per_process: Sequence[tuple[Any, ...]],
                 timeout: float = 300) -> list[Any]:
    """Start ``target(*args, barrier, queue)`` once per args tuple; return what they put on the queue.

    Each worker waits on the barrier before its work, so the work overlaps; ``target``
    must be a module-level function (spawned processes import it).
    """
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(len(args_per_process)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, queue)) for args in args_per_process]
    for p in procs:
        p.start()
    results = [queue.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results
