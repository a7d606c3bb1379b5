"""Hardening tests: hostile names, tampered files, crashes, many writers, schema, sidecars.

The figures they record (names tried / escapes, kills / inconsistent states,
writers x versions / errors) are printed at the end of the run.
"""

from __future__ import annotations

import pytest

from .figures import summary


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook
    lines = summary()
    if lines:
        terminalreporter.section("hardening figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def tiny_data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))
    return X, (X[:, 0] > 0).astype(int)
