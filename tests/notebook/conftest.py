"""A real IPython shell with the extension loaded, working in a tmp folder."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """The global test shell, extension loaded, registry in ``tmp_path/models``.

    Every MIME type is formatted (the test shell activates only text/plain);
    variables the test adds to the namespace are removed afterwards.
    """
    monkeypatch.chdir(tmp_path)
    start_ipython()  # returns the shell on the first call only
    ip = InteractiveShell.instance()
    formats = ip.display_formatter.active_types
    ip.display_formatter.active_types = ip.display_formatter.format_types
    before = set(ip.user_ns)
    ip.run_line_magic("load_ext", "jupyter_modelservice")
    try:
        yield ip
    finally:
        ip.run_line_magic("unload_ext", "jupyter_modelservice")
        for name in set(ip.user_ns) - before:
            del ip.user_ns[name]
        ip.display_formatter.active_types = formats


@pytest.fixture
def classification_data(shell, cancer):
    """Breast-cancer train/test splits as notebook variables X_train, y_train, X_test, y_test."""
    from sklearn.model_selection import train_test_split

    X, y = cancer
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    shell.user_ns.update(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)
    return shell


@pytest.fixture
def regression_data(shell, diabetes):
    """Diabetes train/test splits as notebook variables Xr_train, yr_train, Xr_test, yr_test."""
    from sklearn.model_selection import train_test_split

    X, y = diabetes
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    shell.user_ns.update(Xr_train=X_train, Xr_test=X_test, yr_train=y_train, yr_test=y_test)
    return shell


@pytest.fixture
def run():
    """``run(shell, "train", "...")`` → (returned result, captured output)."""

    def run_magic(ip, magic, line, cell=None):
        with capture_output() as captured:
            if cell is None:
                result = ip.run_line_magic(magic, line)
            else:
                result = ip.run_cell_magic(magic, line, cell)
        return result, captured

    return run_magic
