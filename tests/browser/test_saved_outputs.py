"""A saved, executed magics notebook as others see it: nbconvert HTML and GitHub (issue 14, item 7).

The notebook is run with nbclient as ``notebooks/execute.py`` runs the tutorials (no widget state
stored), then converted with nbconvert's ``HTMLExporter``. Without a kernel or a widget manager it
must read well: no widget error or "Loading widget" text, each panel's saved view (``.jms-snapshot``),
our tables and charts. GitHub shows ``text/html`` outputs without their ``<style>`` elements and
scripts: with those removed, the inline styles alone keep tables as tables, each in its own
scrolling box, and sections side by side. Both pages are also rendered in Chromium (light and dark
nbconvert themes, and the stripped page) and measured.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from tests.display.checks import PNG_MAGIC

from .conftest import CHROMIUM, CHROMIUM_ARGS
from .test_notebook_lab import CHART, MIN_CONTRAST, READABILITY

pytestmark = [pytest.mark.slow]

CELLS = [
    "%load_ext jupyter_modelservice\n%ms_config --dir models -q",
    "from sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n\n"
    "X, y = load_wine(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)",
    "%train RandomForestClassifier X_train y_train --id forest n_estimators=30 random_state=0",
    "%train LogisticRegression X_train y_train --id logreg max_iter=5000",
    "%compare forest logreg X_test y_test",
    "%evaluate logreg X_test y_test",
    "%models",
    "from jupyter_modelservice.widgets import ComparisonPanel\n\nComparisonPanel(X_test=X_test, y_test=y_test)",
]
WIDGET_ERRORS = ("Error displaying widget", "Loading widget", "model not found")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run top to bottom in a fresh kernel and saved, as the project saves its tutorials."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    folder = tmp_path_factory.mktemp("saved")
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    })
    nb.cells = [new_code_cell(code) for code in CELLS]
    before = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False, store_widget_state=False,
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if before is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = before
    path = folder / "saved.ipynb"
    nbformat.write(nb, path)
    for cell in nb.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{cell.source!r}: {errors}"
    return path


def _html(path: Path, theme: str = "light") -> str:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(theme=theme).from_notebook_node(nbformat.read(path, as_version=4))
    return body


def _as_on_github(page: str) -> str:
    """The page without any ``<style>`` element or script (what GitHub strips from outputs)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    for element in soup.find_all(["style", "script"]):
        element.decompose()
    for link in soup.find_all("link", rel="stylesheet"):
        link.decompose()
    return str(soup)


def _outputs(page: str):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    return soup, soup.select(".jp-OutputArea-output")


def test_nbconvert_html_reads_without_a_kernel_or_widget_manager(executed):
    soup, outputs = _outputs(_html(executed))
    text = " ".join(output.get_text(" ") for output in outputs)
    for phrase in WIDGET_ERRORS:
        assert phrase not in text, phrase
    # The widgets' own outputs fall back to their one line of text; their saved views follow.
    assert "Registry browser (interactive: run the cell to use it; its saved view follows)" in text
    assert "Comparison panel (interactive: run the cell to use it; its saved view follows)" in text
    snapshots = soup.select(".jp-OutputArea-output .jms-snapshot")
    assert len(snapshots) == 2
    registry, panel = snapshots
    assert registry.select_one(".jms-registry table.jms-table") is not None
    rows = [tr.get_text(" ", strip=True) for tr in registry.select("tbody tr")]
    assert sorted(row.split()[0] for row in rows) == ["forest", "logreg"]
    assert "Comparison panel: 2 versions, none chosen." in panel.get_text(" ", strip=True)

    comparison = soup.select_one(".jp-OutputArea-output .jms-comparison")
    evaluation = soup.select_one(".jp-OutputArea-output .jms-evaluation")
    assert comparison is not None and evaluation is not None
    headers = [th.get_text(strip=True) for th in comparison.select("table.jms-table thead th")]
    assert {"model_id", "accuracy", "F1"} <= set(headers)
    assert len(evaluation.select("table.jms-table")) >= 2  # metrics and confusion matrix
    trains = soup.select(".jp-OutputArea-output .jms-train")
    assert len(trains) == 2
    charts = soup.select(".jp-OutputArea-output .jms img")
    assert len(charts) >= 2  # the comparison and the confusion matrix
    for img in charts:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
        assert img.get("alt")


def test_on_github_the_inline_styles_keep_the_layout(executed):
    """Without any stylesheet, each of our tables keeps its scrolling box, cell padding and alignment."""
    soup, outputs = _outputs(_as_on_github(_html(executed)))
    assert not soup.find_all(["style", "script"])
    ours = [element for output in outputs for element in output.select(".jms")]
    assert len(ours) >= 6  # two train cards, compare, evaluate, two saved views
    tables = [table for element in ours for table in element.select("table")]
    assert len(tables) >= 6
    for table in tables:
        box = table.parent
        assert "jms-scroll" in box.get("class", []), table.get_text(" ", strip=True)[:60]
        assert "overflow-x:auto" in box["style"] and "max-width:100%" in box["style"]
        assert "border-collapse:collapse" in table["style"]
        cells = table.select("th, td")
        assert cells and all("padding:" in cell.get("style", "") for cell in cells)
        for cell in cells:  # the alignment the stylesheet gives (.jms-left, else right), inline
            side = "left" if "jms-left" in cell.get("class", []) else "right"
            assert f"text-align:{side}" in cell["style"], cell
    rows = [row for element in ours for row in element.select(".jms-row")]
    assert rows and all("display:flex" in row["style"] and "flex-wrap:wrap" in row["style"] for row in rows)
    for img in (img for element in ours for img in element.select("img")):
        assert "max-width:100%" in (img.get("style", "") + img.parent.get("style", ""))


def test_on_github_the_best_values_stay_marked(executed):
    soup, outputs = _outputs(_as_on_github(_html(executed)))
    best = [cell for output in outputs for cell in output.select(".jms td.jms-best")]
    assert len(best) >= 5  # the comparison's best value of each metric
    assert all(re.search(r"font-weight:\s*(bold|[6-9]00)", cell.get("style", "")) for cell in best)


def _render(pw, path: Path, width: int, height: int):
    chrome = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                ignore_default_args=["--hide-scrollbars"])
    page = chrome.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(90_000)
    page.goto(path.as_uri(), wait_until="load", timeout=90_000)
    return chrome, page


def _fits(inner: dict, outer: dict) -> bool:
    return inner["x"] >= outer["x"] - 1 and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1


def _measure(page, where: str, *, dark: bool) -> None:
    """Our outputs on a rendered page: tables as tables inside their output, charts shown, text readable."""
    outputs = page.locator(".jp-OutputArea-output:has(.jms)")
    assert outputs.count() >= 6, where
    for i in range(outputs.count()):
        area = outputs.nth(i)
        area_box = area.bounding_box()
        for box in area.locator(".jms-scroll").all():
            assert _fits(box.bounding_box(), area_box), f"{where}: a table box wider than its output"
            table = box.locator("table").first
            assert table.evaluate("t => getComputedStyle(t).display") == "table"
            assert table.evaluate("t => getComputedStyle(t.querySelector('td, th')).display") == "table-cell"
            # A table is laid out in rows: the cells of its first row share one line.
            tops = table.locator("tr").first.locator("th, td").evaluate_all(
                "cells => cells.map(c => Math.round(c.getBoundingClientRect().top))")
            assert len(set(tops)) == 1, f"{where}: the cells of a row are stacked {tops}"
        for img in area.locator(".jms img").all():
            chart = img.evaluate(CHART)
            assert chart["width"] > 100 and chart["transparent"] == 0, (where, chart)
            assert _fits(img.bounding_box(), area_box), f"{where}: a chart wider than its output"
        seen = area.locator(".jms").first.evaluate(READABILITY, [MIN_CONTRAST, dark])
        assert not seen["failures"], f"{where}: {seen['failures'][:5]}"
    sections = page.locator(".jms-evaluation .jms-row").first.locator(":scope > .jms-section")
    first, second = sections.nth(0).bounding_box(), sections.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2, f"{where}: metrics and confusion matrix side by side"


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_nbconvert_html_in_chromium(executed, chromium, tmp_path, theme):
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / f"saved_{theme}.html"
    page_path.write_text(_html(executed, theme), encoding="utf-8")
    github_path = tmp_path / "saved_github.html"
    github_path.write_text(_as_on_github(_html(executed)), encoding="utf-8")
    with sync_playwright() as pw:
        pages = [page_path] + ([github_path] if theme == "light" else [])  # GitHub has no dark page of ours
        for path in pages:
            for width, height in ((1024, 768), (1440, 900)):
                chrome, page = _render(pw, path, width, height)
                try:
                    where = f"{path.name} at {width}"
                    if path is page_path:
                        assert page.evaluate("() => document.body.dataset.jpThemeLight") == str(theme == "light").lower()
                    body = page.locator("body").inner_text()
                    for phrase in WIDGET_ERRORS:
                        assert phrase not in body, (where, phrase)
                    _measure(page, where, dark=theme == "dark" and path is page_path)
                    page.locator(".jms-evaluation").scroll_into_view_if_needed()
                    page.screenshot(path=str(tmp_path / f"{path.stem}_{width}.png"))
                finally:
                    chrome.close()
