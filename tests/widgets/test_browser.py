"""RegistryBrowser driven headlessly: values set, buttons clicked, registry and outputs checked."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_modelservice.notebook.registry_rows import details_html
from jupyter_modelservice.widgets import RegistryBrowser

from .helpers import html_of, pngs, stream_text

ALL = ["tree:1", "ridge:1", "knn:1", "lr:1", "rf:2", "rf:1"]  # newest first


def refs(browser):
    return [value for _, value in browser.table.options]


def select(browser, *values):
    browser.table.value = tuple(values)


@pytest.fixture
def browser(registry, namespace):
    return RegistryBrowser(registry, namespace=namespace)


def test_opens_on_the_newest_versions_with_a_header_and_page_label(browser):
    assert refs(browser) == ALL
    assert browser.page_label.value == "page 1 of 1 (6 versions)"
    header = browser.header.value
    for title in ("model", "ver", "class", "status", "train", "validation", "trained"):
        assert title in header
    label = dict((v, k) for k, v in browser.table.options)["rf:2"]
    cells = label.split()  # non-breaking spaces split too
    assert cells[:4] == ["rf", "2", "RandomForestClassifier", "saved"]
    assert stream_text(browser.message) == ""


def test_search_status_and_sort_are_applied_by_the_registry(browser, registry):
    browser.search.value = "forest"
    assert refs(browser) == ["rf:2", "rf:1"]
    browser.search.value = ""
    registry.update_model_metadata("lr", {"status": "archived"})
    browser.status_filter.value = "archived"
    assert refs(browser) == ["lr:1"]
    assert browser.page_label.value == "page 1 of 1 (1 version)"
    browser.status_filter.value = "trained"
    assert refs(browser) == ["tree:1"]
    browser.status_filter.value = "all"
    browser.sort.value = "-validation_score"
    scores = [row["validation_score"] for row in browser.rows_]
    assert scores == sorted(scores, reverse=True)
    browser.sort.value = "training_date"
    assert refs(browser) == ALL[::-1]
    browser.search.value = "no such model"
    assert refs(browser) == [] and browser.page_label.value == "page 1 of 1 (0 versions)"


def test_pages_are_fetched_from_the_registry_one_at_a_time(registry, namespace, monkeypatch):
    calls = []
    original = registry.registry.list

    def spy(**kwargs):
        calls.append((kwargs.get("limit"), kwargs.get("offset")))
        return original(**kwargs)

    monkeypatch.setattr(registry.registry, "list", spy)
    browser = RegistryBrowser(registry, namespace=namespace, page_size=4)
    assert refs(browser) == ALL[:4] and calls[-1] == (5, 0)  # one row more: is there a next page?
    assert browser.page_label.value == "page 1 of 2 (6 versions)"
    assert browser.prev_button.disabled and not browser.next_button.disabled
    browser.next_button.click()
    assert refs(browser) == ALL[4:] and calls[-1] == (5, 4)
    assert browser.page_label.value == "page 2 of 2 (6 versions)"
    assert browser.next_button.disabled and not browser.prev_button.disabled
    browser.prev_button.click()
    assert refs(browser) == ALL[:4]
    browser.next_button.click()
    browser.search.value = "rf"  # a new filter starts again at page 1
    assert browser.page == 0 and refs(browser) == ["rf:2", "rf:1"]


def test_details_show_params_scores_provenance_history_and_the_importance_chart(browser):
    select(browser, "rf:2")
    html = html_of(browser.details)
    assert "rf:2 — RandomForestClassifier" in html
    assert "n_estimators" in html and ">12<" in html
    assert "validation accuracy" in html
    assert "training samples" in html and "sha256" in html and "rf/v2.joblib" in html
    assert "registered" in html and "saved" in html
    charts = pngs(browser.details)
    assert len(charts) == 1 and charts[0].startswith(b"\x89PNG")


def test_importance_chart_only_when_the_model_is_available(browser, registry, namespace):
    select(browser, "knn:1")
    assert pngs(browser.details) == []
    assert "No importance chart" in stream_text(browser.details)
    select(browser, "tree:1")  # unsaved but held by this session
    assert len(pngs(browser.details)) == 1
    from jupyter_modelservice import ModelService

    with ModelService(models_directory=registry.models_directory) as other:
        fresh = RegistryBrowser(other, namespace=namespace)
        select(fresh, "tree:1")  # unsaved and not in this service's memory
        assert pngs(fresh.details) == []
        assert "never saved" in stream_text(fresh.details)
        assert "tree:1 — DecisionTreeClassifier" in html_of(fresh.details)


def test_several_rows_selected_list_them_in_the_details(browser):
    select(browser, "rf:1", "lr:1")
    assert "2 versions selected" in stream_text(browser.details)
    assert browser.load_button.disabled and not browser.status_button.disabled


def test_set_status_updates_the_registry_the_table_and_the_details(browser, registry):
    select(browser, "rf:1")
    browser.new_status.value = "production"
    assert browser.status_button.description == "Set status → production"
    browser.status_button.click()
    assert registry.get_model_metadata("rf:1")["status"] == "production"
    assert stream_text(browser.message) == "rf:1: saved → production.\n"
    label = dict((v, k) for k, v in browser.table.options)["rf:1"]
    assert "production" in label
    assert browser.table.value == ("rf:1",)
    assert "jms-status-production" in html_of(browser.details)
    browser.status_filter.value = "production"
    assert refs(browser) == ["rf:1"]


def test_set_status_on_several_versions_and_promotion_demotes(browser, registry):
    select(browser, "rf:1")
    browser.new_status.value = "production"
    browser.status_button.click()  # one version affected: done at once
    assert registry.get_model_metadata("rf:1")["status"] == "production"
    select(browser, "rf:2")
    browser.status_button.click()  # rf:1 would be demoted: two versions affected, so it asks first
    assert registry.get_model_metadata("rf:2")["status"] == "saved"
    assert stream_text(browser.message) == ("Set the status of rf:2 to production? This demotes rf:1 "
                                            "(production → saved). Click 'Confirm' to proceed.\n")
    assert browser.confirm_button.layout.display is None
    assert browser.confirm_button.description == "Confirm status change"
    browser.confirm_button.click()
    assert registry.get_model_metadata("rf:2")["status"] == "production"
    assert registry.get_model_metadata("rf:1")["status"] == "saved"
    assert stream_text(browser.message) == "rf:2: saved → production.\n"  # one line, the latest
    assert browser.confirm_button.layout.display == "none"

    select(browser, "lr:1", "knn:1")
    browser.new_status.value = "archived"
    browser.status_button.click()
    assert {registry.get_model_metadata(r)["status"] for r in ("lr:1", "knn:1")} == {"saved"}
    browser.cancel_button.click()
    assert stream_text(browser.message) == "Cancelled.\n"
    browser.confirm_button.click()  # a cancelled question changes nothing
    assert {registry.get_model_metadata(r)["status"] for r in ("lr:1", "knn:1")} == {"saved"}
    assert "Nothing to confirm" in stream_text(browser.message)
    browser.status_button.click()
    select(browser, "lr:1")  # another selection drops the question and its line
    assert browser.confirm_button.layout.display == "none" and stream_text(browser.message) == ""
    select(browser, "lr:1", "knn:1")
    browser.status_button.click()
    browser.confirm_button.click()
    assert {registry.get_model_metadata(r)["status"] for r in ("lr:1", "knn:1")} == {"archived"}
    assert stream_text(browser.message) == "lr:1: saved → archived; knn:1: saved → archived.\n"


def test_warnings_of_an_action_are_shown_not_raised(browser, registry):
    from jupyter_modelservice import ModelService

    with ModelService(models_directory=registry.models_directory) as other:
        fresh = RegistryBrowser(other, namespace={})
        select(fresh, "tree:1")
        fresh.new_status.value = "saved"
        fresh.status_button.click()
        assert other.get_model_metadata("tree:1")["status"] == "saved"
        assert "warning: tree:1 is marked 'saved' but has no saved file" in stream_text(fresh.message)


def test_load_puts_the_model_into_the_namespace(browser, namespace, iris):
    select(browser, "rf:2")
    browser.load_name.value = "best"
    browser.load_button.click()
    assert stream_text(browser.message) == "Loaded rf:2 (RandomForestClassifier) as 'best'.\n"
    model = namespace["best"]
    assert model.n_estimators == 12
    from jupyter_modelservice import ModelService

    with ModelService(models_directory=browser.service.models_directory) as other:  # read from its file
        np.testing.assert_array_equal(model.predict(iris[0]), other.get_model("rf:2").predict(iris[0]))


def test_load_refuses_a_bad_name_with_a_one_line_error(browser, namespace):
    select(browser, "lr:1")
    browser.load_name.value = "class"
    browser.load_button.click()
    text = stream_text(browser.message, "stderr")
    assert text.startswith("Error: 'class' is not a valid Python variable name")
    assert "Traceback" not in text and "class" not in namespace


def test_load_of_a_missing_file_shows_the_service_error(browser, registry, namespace):
    import os

    row = registry.get_model_metadata("lr:1")
    os.remove(os.path.join(registry.models_directory, row["file_path"]))
    select(browser, "lr:1")
    browser.load_button.click()
    text = stream_text(browser.message)
    assert text.startswith("Error: The file of lr:1 (lr/v1.joblib) is missing")
    assert text.count("\n") == 1 and "Traceback" not in text
    assert "model" not in namespace
    assert not browser.load_button.disabled  # re-enabled after the failure


def test_delete_asks_for_confirmation(browser, registry):
    select(browser, "rf:1")
    browser.delete_button.click()
    assert registry.get_model_metadata("rf:1")  # still there
    assert browser.confirm_button.layout.display != "none"
    assert "Confirm delete" in stream_text(browser.message)
    browser.cancel_button.click()
    assert browser.confirm_button.layout.display == "none"
    browser.confirm_button.click()  # a hidden, cancelled confirmation deletes nothing
    assert registry.get_model_metadata("rf:1")
    assert "Nothing to confirm" in stream_text(browser.message)

    browser.delete_button.click()
    select(browser, "lr:1")  # changing the selection cancels too
    assert browser.confirm_button.layout.display == "none"
    select(browser, "rf:1")
    browser.delete_button.click()
    browser.confirm_button.click()
    assert stream_text(browser.message) == "Deleted rf:1.\n"
    assert [r["version"] for r in registry.list_models(model_id="rf")] == [2]
    assert not (registry.models_directory / "rf" / "v1.joblib").exists()
    assert "rf:1" not in refs(browser) and browser.table.value == ()
    assert browser.page_label.value == "page 1 of 1 (5 versions)"


def test_deleting_the_last_row_of_the_last_page_moves_back_a_page(registry, namespace):
    browser = RegistryBrowser(registry, namespace=namespace, page_size=5)
    browser.next_button.click()
    assert refs(browser) == ["rf:1"]
    select(browser, "rf:1")
    browser.delete_button.click()
    browser.confirm_button.click()
    assert browser.page == 0 and browser.page_label.value == "page 1 of 1 (5 versions)"


def test_compare_selected_shows_the_table_and_records_metrics(browser, registry):
    select(browser, "rf:2", "lr:1")
    browser.compare_button.click()
    message = stream_text(browser.message)
    assert message.startswith("Compared 2 version(s) on X_test/y_test: best ") and "by accuracy" in message
    html = html_of(browser.comparison)
    assert "Comparison of 2 models" in html and ">rf</td>" in html and ">lr</td>" in html
    assert "accuracy" in registry.get_model_metadata("rf:2")["metrics"]
    select(browser, "rf:2")
    assert "test accuracy" in html_of(browser.details)


def test_compare_errors_are_one_line(browser):
    select(browser, "rf:2", "ridge:1")
    browser.compare_button.click()
    text = stream_text(browser.message)
    assert text.startswith("Error: Cannot compare classification and regression models")
    assert "Traceback" not in text
    browser.x_name.value = "X_missing"
    browser.compare_button.click()
    assert stream_text(browser.message) == "Error: No variable named 'X_missing' (for X) in the notebook.\n"
    assert html_of(browser.comparison) == ""


def test_an_unexpected_error_keeps_its_traceback(browser, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(browser.service, "load_model", broken)
    select(browser, "lr:1")
    browser.load_button.click()
    text = stream_text(browser.message, "stderr")
    assert text.startswith("Error (ZeroDivisionError): boom\n") and "Traceback" in text


def test_buttons_are_disabled_while_an_action_runs(browser, monkeypatch):
    seen = []
    original = browser.service.update_model_metadata

    def spy(*args, **kwargs):
        seen.append([b.disabled for b in (browser.load_button, browser.status_button,
                                          browser.delete_button, browser.compare_button)])
        return original(*args, **kwargs)

    monkeypatch.setattr(browser.service, "update_model_metadata", spy)
    select(browser, "rf:1")
    browser.status_button.click()
    assert seen == [[True, True, True, True]]
    assert not browser.status_button.disabled and not browser.load_button.disabled


def test_details_html_escapes_every_value():
    row = {"model_id": "m", "version": 1, "model_class": "<Cls>", "status": "saved",
           "model_params": {"note": "<script>alert(1)</script>"}, "tags": {"k": "a&b"}}
    html = details_html(row, [{"at": "2026-01-01T00:00:00", "event": "<e>", "actor": "<me>"}])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;Cls&gt;" in html and "a&amp;b" in html and "&lt;me&gt;" in html


def test_without_a_service_it_opens_models_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    browser = RegistryBrowser(namespace={})
    assert (tmp_path / "models" / "registry.db").exists()
    assert refs(browser) == [] and browser.page_label.value == "page 1 of 1 (0 versions)"
    browser.service.close()


def test_in_ipython_the_namespace_defaults_to_the_users(registry):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()  # returns the shell only on its first call in a test run
    shell = InteractiveShell.instance()
    browser = RegistryBrowser(registry)
    assert browser.namespace is shell.user_ns
    select(browser, "lr:1")
    browser.load_name.value = "_widget_test_model"
    browser.load_button.click()
    try:
        assert type(shell.user_ns["_widget_test_model"]).__name__ == "LogisticRegression"
    finally:
        shell.user_ns.pop("_widget_test_model", None)


def test_the_public_module_reexports_the_panels():
    import jupyter_modelservice.widgets as public
    from jupyter_modelservice.notebook.browser import RegistryBrowser as Browser
    from jupyter_modelservice.notebook.comparison_panel import ComparisonPanel

    assert public.__all__ == ["ComparisonPanel", "RegistryBrowser"]
    assert public.RegistryBrowser is Browser and public.ComparisonPanel is ComparisonPanel


def test_initial_filters_and_a_plain_text_fallback(registry, namespace):
    browser = RegistryBrowser(registry, namespace=namespace, search="rf", status="saved",
                              order_by="-validation_score")
    assert sorted(refs(browser)) == ["rf:1", "rf:2"]
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    # rf:1 and rf:2 were split with their own seeds: sorted by validation score, they are no ranking
    assert text.startswith("Registry browser: page 1 of 1 (2 versions) · Not a ranking: these validation "
                           "scores were computed on different splits or scorings of the same data")
    assert "\nmodel" in text
    assert "\u00a0" not in text and "RandomForestClassifier" in text


@pytest.mark.parametrize("kwargs", [{"status": "gone"}, {"order_by": "fit_seconds"}, {"page_size": 0}])
def test_bad_initial_options_say_what_to_use(registry, kwargs):
    from jupyter_modelservice import InvalidInputError

    with pytest.raises(InvalidInputError, match="use one of|at least 1"):
        RegistryBrowser(registry, namespace={}, **kwargs)


def test_search_text_is_literal_and_checked(browser):
    browser.search.value = "r%"
    assert refs(browser) == []
    browser.search.value = "bad\x00text"
    assert stream_text(browser.message, "stderr").startswith("Error: ")
    assert "Traceback" not in stream_text(browser.message)
    browser.search.value = "lr"
    assert refs(browser) == ["lr:1"]


def test_the_search_box_takes_a_where_expression(browser, registry):
    registry.update_model_metadata("knn", {"tags": {"team": "vision"}})
    browser.search.value = "tags.team == 'vision' or model_id in ('ridge',)"
    assert sorted(refs(browser)) == ["knn:1", "ridge:1"]
    assert browser.page_label.value.endswith("(2 versions)")
    browser.search.value = "validation_score >"  # unfinished: an error line, not a traceback
    assert "where expression" in stream_text(browser.message)
    browser.search.value = "rf"  # plain text is still a search
    assert refs(browser) == ["rf:2", "rf:1"]


# -- one status line, and nothing stale under it ------------------------------------------------------------


def test_one_status_line_always_the_latest_through_compare_load_and_delete(browser, registry):
    lines = []
    browser.message.observe(lambda change: lines.append(stream_text(browser.message)), names="outputs")
    select(browser, "knn:1", "lr:1")
    browser.compare_button.click()
    assert any(line.startswith("Evaluating: 0/2 models") for line in lines)  # progress on the status line
    assert any(line.startswith("Evaluating · 2/2 models · ") for line in lines)
    assert all(line.count("\n") <= 1 for line in lines)  # never two lines at once
    assert stream_text(browser.message).startswith("Compared 2 version(s) on X_test/y_test: best ")
    assert "Comparison of 2 models" in html_of(browser.comparison)

    select(browser, "lr:1")
    browser.load_button.click()
    assert stream_text(browser.message) == "Loaded lr:1 (LogisticRegression) as 'model'.\n"
    select(browser, "knn:1")
    browser.delete_button.click()
    browser.confirm_button.click()
    assert stream_text(browser.message) == "Deleted knn:1.\n"
    assert html_of(browser.comparison) == ""  # it compared knn:1, which is gone
    assert all("Evaluating" not in line for line in lines[-4:])


def test_a_failed_compare_leaves_no_older_comparison_under_its_error(browser):
    select(browser, "rf:2", "lr:1")
    browser.compare_button.click()
    assert "Comparison of 2 models" in html_of(browser.comparison)
    browser.y_name.value = "y_missing"
    browser.compare_button.click()
    assert stream_text(browser.message) == "Error: No variable named 'y_missing' (for y) in the notebook.\n"
    assert html_of(browser.comparison) == ""


def test_deleting_a_version_not_in_the_comparison_keeps_it(browser):
    select(browser, "rf:2", "lr:1")
    browser.compare_button.click()
    select(browser, "knn:1")
    browser.delete_button.click()
    browser.confirm_button.click()
    assert "Comparison of 2 models" in html_of(browser.comparison)


# -- telling versions apart, and what the details say -------------------------------------------------------


def test_a_column_names_the_parameters_that_differ_between_versions_of_an_id(browser):
    assert "differs" in browser.header.value
    labels = {value: label.replace("\u00a0", " ") for label, value in browser.table.options}
    assert "n_estimators=12 random_state=1" in labels["rf:2"]
    assert "n_estimators=5 random_state=0" in labels["rf:1"]
    assert labels["lr:1"].rstrip().endswith("20" + labels["lr:1"].rstrip()[-14:])  # nothing after the date
    assert "random_state" not in labels["knn:1"]
    assert "differs" in browser.to_text() and "n_estimators=12 random_state=1" in browser.to_text()


def test_no_differs_column_when_no_id_has_two_versions_on_the_page(browser):
    browser.search.value = "lr"
    assert "differs" not in browser.header.value


def test_test_metrics_in_the_details_are_metrics_only(browser, registry, iris):
    registry.evaluate_model(*iris, model_id="lr:1")
    browser.refresh_button.click()
    select(browser, "lr:1")
    html = html_of(browser.details)
    for label in ("test accuracy", "test precision", "test recall", "test F1", "test ROC AUC"):
        assert f">{label}</th>" in html
    assert "test task_type" not in html and "test n_samples" not in html
    assert ">test samples</th>" in html and ">150</td>" in html


def test_details_show_the_lineage_back_to_the_root(registry, namespace, iris):
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    registry.train_model(DecisionTreeClassifier, X, y, model_id="child", parent="rf:1", random_state=0)
    registry.train_model(DecisionTreeClassifier, X, y, model_id="grandchild", parent="child", random_state=0)
    browser = RegistryBrowser(registry, namespace=namespace)
    select(browser, "grandchild:1")
    assert ">lineage</th>" in html_of(browser.details)
    assert "grandchild:1 ← child:1 ← rf:1" in html_of(browser.details)
    select(browser, "rf:1")  # a root has no lineage row
    assert ">lineage</th>" not in html_of(browser.details)


def test_the_saved_view_follows_the_registry_after_a_delete(registry, namespace):
    from IPython.display import display
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    start_ipython()
    browser = RegistryBrowser(registry, namespace=namespace)
    with capture_output() as cap:
        display(browser)
        select(browser, "knn:1")
        browser.delete_button.click()
        browser.confirm_button.click()
    saved = [o.data["text/html"] for o in cap.outputs if 'class="jms-snapshot"' in o.data.get("text/html", "")]
    assert ">knn</td>" in saved[0] and ">knn</td>" not in saved[-1] and ">rf</td>" in saved[-1]


def test_built_without_a_first_query_then_queried(registry, namespace, monkeypatch):
    """Building and wiring the panel reads nothing from the registry; `query` reads the page."""
    calls = []
    monkeypatch.setattr(registry.registry, "list", lambda *a, **k: calls.append(k) or [])
    browser = RegistryBrowser(registry, namespace=namespace, query=False, search="rf", status="saved")
    assert calls == [] and browser.rows_ == [] and browser.table.options == ()
    assert (browser.search.value, browser.status_filter.value) == ("rf", "saved")
    monkeypatch.undo()
    browser.query()
    assert refs(browser) == ["rf:2", "rf:1"]
    browser.status_filter.value = "all"  # wired: a change queries again
    assert refs(browser) == ["rf:2", "rf:1"] and browser.page_label.value == "page 1 of 1 (2 versions)"


def test_compare_reports_progress_through_a_progress_object(browser, monkeypatch):
    from jupyter_modelservice.notebook.progress import StatusProgress

    made = []
    make = browser.actions.progress

    def recorded(total, description, unit="steps"):
        made.append(make(total, description, unit))
        return made[-1]

    monkeypatch.setattr(browser.actions, "progress", recorded)
    select(browser, "knn:1", "lr:1")
    browser.compare_button.click()
    [bar] = made
    assert isinstance(bar, StatusProgress) and bar.closed and (bar.done, bar.total) == (2, 2)
    assert stream_text(browser.message).startswith("Compared 2 version(s)")
