from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from IPython.utils.capture import capture_output

from jupyter_modelservice.notebook.progress import StatusProgress, TextProgress, WidgetProgress, progress_bar


def test_text_progress_rewrites_one_line_and_ends_with_a_summary():
    stream = io.StringIO()
    with TextProgress(3, "Cross-validation", "folds", stream=stream) as bar:
        for done in (1, 2, 3):
            bar(done, 3)
        bar.finish("accuracy 0.95")
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "Cross-validation: 2/3 folds" in text
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("Cross-validation · 3/3 folds · accuracy 0.95 · ")
    assert last.rstrip().endswith(" s")


def test_text_progress_marks_a_failure():
    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        with TextProgress(5, "CV", "folds", stream=stream) as bar:
            bar(1, 5)
            raise RuntimeError("boom")
    assert "CV · failed · 1/5 folds" in stream.getvalue()
    assert bar.closed


def test_widget_progress_updates_the_bar_and_ends_as_a_summary(shell):
    with capture_output() as cap:
        bar = WidgetProgress(4, "Cross-validation", "folds")
    bundle = cap.outputs[0].data
    assert bundle["text/plain"] == "Cross-validation: 4 folds"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    bar(2, 4)
    assert bar.bar.value == 2 and bar.label.value == "2/4 folds"
    bar(4, 4)
    with capture_output() as cap:
        bar.finish("accuracy 0.9")
    assert bar.bar.bar_style == "success"
    assert bar.label.value.startswith("Cross-validation · 4/4 folds · accuracy 0.9 · ")
    # The output becomes the summary as text (a saved notebook keeps it), and the widgets close.
    [update] = cap.outputs
    assert update.update and update.data == {"text/plain": bar.label.value}
    assert bar.box.comm is None and bar.bar.comm is None


def test_an_interrupt_erases_the_progress(shell):
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt), TextProgress(5, "CV", "folds", stream=stream) as bar:
        bar(2, 5)
        raise KeyboardInterrupt
    assert stream.getvalue().rsplit("\r", 2)[-2].strip() == ""  # the line is blanked, no "failed" summary
    assert "failed" not in stream.getvalue()
    with capture_output():
        widget = WidgetProgress(5, "CV", "folds")
    with capture_output() as cap, pytest.raises(KeyboardInterrupt), widget:
        raise KeyboardInterrupt
    assert cap.outputs[-1].update and cap.outputs[-1].data == {"text/plain": ""}


def test_widgets_in_a_kernel_text_elsewhere(shell):
    terminal = SimpleNamespace()
    kernel = SimpleNamespace(kernel=object())
    with capture_output():
        assert isinstance(progress_bar(2, "x", "folds", shell=terminal), TextProgress)
        widget = progress_bar(2, "x", "folds", shell=kernel)
    assert isinstance(widget, WidgetProgress)
    with capture_output():
        widget.finish()


def test_status_progress_replaces_a_panels_line_and_ends_with_the_summary():
    lines: list[str] = []
    with StatusProgress(3, "Evaluating", "models", say=lines.append) as bar:
        bar(1, 3)
        bar(3, 3)
    assert lines[:3] == ["Evaluating: 0/3 models", "Evaluating: 1/3 models", "Evaluating: 3/3 models"]
    assert lines[-1].startswith("Evaluating · 3/3 models · ") and len(lines) == 4
    with pytest.raises(KeyboardInterrupt), StatusProgress(2, "Evaluating", "models", say=lines.append):
        raise KeyboardInterrupt
    assert lines[-1] == "Evaluating: 0/2 models"  # erased: the action's own line follows
