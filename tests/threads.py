"""Run a piece of test work in threads that start it together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def errors_in_threads(work: Callable[[threading.Barrier], Any], n: int, timeout: float = 60) -> list[Exception]:
    """Run ``work(barrier)`` in ``n`` threads (each waits on ``barrier`` where its work must overlap
    the others'); return the exceptions they raised, after joining them."""
    barrier = threading.Barrier(n)
    errors: list[Exception] = []

    def run() -> None:
        try:
            work(barrier)
        except Exception as err:  # noqa: BLE001 - returned to the test, which asserts on them
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors
