"""A magics-only notebook in a real JupyterLab: a narrow window (1024×768) and the notebook reopened.

What a new user met (issue 14), checked where it happened: tables and toolbars at 1024 px with the
file browser open, the panels without a ``service`` variable, one status line in the browser,
disabled buttons, the interrupt-free %train --folds run, and what a saved notebook shows when it is
opened again (trusted: JupyterLab's own save; untrusted: the file changed elsewhere), each at
1024×768 and 1440×900, in the light and the dark theme: text that contrasts with its background,
opaque charts, tables inside the output area, the evaluation card's sections side by side.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from .conftest import CHROMIUM_ARGS, LabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT = 300_000  # ms: kernel start, imports and training on a busy 2-core machine
STEP_TIMEOUT = 90_000  # ms: one widget round trip
IDLE = re.compile(r"\(ipykernel\) \| Idle")

CELLS = [
    "%load_ext jupyter_modelservice\n%ms_config --dir models -q",
    "from sklearn.datasets import load_wine\nfrom sklearn.model_selection import train_test_split\n\n"
    "X, y = load_wine(return_X_y=True, as_frame=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)",
    "%train RandomForestClassifier X_train y_train --id forest n_estimators=50 random_state=0",
    "%train ExtraTreesClassifier X_train y_train --folds 5 n_estimators=50 random_state=0",
    "%train LogisticRegression X_train y_train --id logreg max_iter=5000",
    "%train KNeighborsClassifier X_train y_train --id knn",
    "%train RandomForestClassifier X_train y_train --id forest n_estimators=80 max_depth=4 random_state=0",
    "%compare forest logreg knn extratrees-1 X_test y_test",
    "%evaluate logreg X_test y_test",
    "%models",
    "from jupyter_modelservice.widgets import ComparisonPanel\n\nComparisonPanel(X_test=X_test, y_test=y_test)",
]


def wine_notebook(folder: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    })
    nb.cells = [new_code_cell(code) for code in CELLS]
    path = folder / "wine.ipynb"
    nbformat.write(nb, path)
    return path


def _chromium(pw):
    # Playwright hides scrollbars in headless mode; a user sees them, and so do the screenshots.
    return pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True,
                              ignore_default_args=["--hide-scrollbars"])


def _open(chrome, server: LabServer, width: int, height: int):
    from playwright.sync_api import expect

    page = chrome.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(STEP_TIMEOUT)
    page.goto(server.notebook_url, timeout=STEP_TIMEOUT)
    expect(page.locator(".jp-Notebook")).to_be_visible(timeout=RUN_TIMEOUT)
    return page


def _menu(page, menu: str, command: str) -> None:
    page.locator(".lm-MenuBar-item", has_text=menu).first.click()
    page.locator(f"li.lm-Menu-item[data-command='{command}']").click()


def _scroll_to(page, locator) -> None:
    page.evaluate("el => el.scrollIntoView({block: 'start'})", locator.element_handle())


def _fits(page, inner, outer) -> bool:
    """Whether ``inner``'s box lies within ``outer``'s horizontally (nothing cut off at the right)."""
    a, b = inner.bounding_box(), outer.bounding_box()
    return a is not None and b is not None and a["x"] >= b["x"] - 1 and a["x"] + a["width"] <= b["x"] + b["width"] + 1


def run_in_a_narrow_window(server: LabServer, screenshots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        chrome = _chromium(pw)
        try:
            page = _open(chrome, server, 1024, 768)
            expect(page.get_by_text(IDLE)).to_be_visible(timeout=RUN_TIMEOUT)
            expect(page.locator(".jp-DirListing")).to_be_visible()  # the file browser is open
            _menu(page, "Run", "runmenu:run-all")
            panel = page.locator(".jms-comparison-panel")
            expect(panel).to_be_visible(timeout=RUN_TIMEOUT)
            expect(page.get_by_text(IDLE)).to_be_visible(timeout=RUN_TIMEOUT)
            expect(page.get_by_text(re.compile("Traceback|Error displaying widget"))).to_have_count(0)

            # %train --folds: the progress bar ended as one line of text.
            expect(page.get_by_text(re.compile(r"^Cross-validation · 5/5 folds · accuracy"))).to_have_count(1)

            # %compare: the table scrolls inside its own box, every column reachable.
            comparison = page.locator(".jms-comparison").first
            _scroll_to(page, comparison)
            box = comparison.locator(".jms-scroll").first
            assert box.evaluate("el => getComputedStyle(el).overflowX") == "auto"
            assert box.evaluate("el => el.scrollWidth > el.clientWidth"), "the table fits: nothing to check"
            box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
            last = box.locator("th").last
            assert last.inner_text() == "p vs best"
            assert _fits(page, last, box)
            _scroll_to(page, comparison)
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshots / "compare_1024.png"))

            # The registry browser: toolbars wrap, the list scrolls, labels are whole.
            browser = page.locator(".jms-browser").first
            _scroll_to(page, browser)
            for control in ("Search", "Status", "Sort by"):
                assert _fits(page, browser.get_by_text(control, exact=True).first, browser), control
            assert _fits(page, browser.get_by_role("button", name="Refresh"), browser)
            listing = browser.locator(".jms-mono").first.locator("xpath=..")
            assert listing.evaluate("el => el.scrollWidth > el.clientWidth")
            assert "trained" in browser.locator(".jms-list-header").inner_text()
            status = browser.get_by_role("button", name="Set status → production")
            assert status.evaluate("el => el.scrollWidth <= el.clientWidth")  # not "Set status → product…"
            load = browser.get_by_role("button", name="Load")
            assert load.is_disabled()
            assert load.evaluate("el => getComputedStyle(el).cursor") == "not-allowed"
            assert load.evaluate("el => getComputedStyle(el).opacity") == "1"  # greyed, not a faded blue
            page.screenshot(path=str(screenshots / "browser_1024.png"))

            # One status line, always the latest: compare two, then delete one of them.
            table = browser.locator("select[multiple]")
            refs = [text.split()[0] + ":" + text.split()[1] for text in table.locator("option").all_text_contents()]
            table.select_option(index=[refs.index("knn:1"), refs.index("logreg:1")])
            browser.get_by_role("button", name="Compare selected").click()
            expect(browser).to_contain_text(re.compile(r"Compared 2 version\(s\) on X_test/y_test: best "))
            expect(browser.locator(".jms-comparison")).to_be_visible()
            table.select_option(index=refs.index("knn:1"))
            browser.get_by_role("button", name="Delete").click()
            confirm = browser.get_by_role("button", name="Confirm delete")
            expect(confirm).to_be_visible(timeout=STEP_TIMEOUT)  # a round trip to a busy kernel
            assert _fits(page, browser.get_by_role("button", name="Set status → production"), browser)
            assert status.evaluate("el => el.scrollWidth <= el.clientWidth")
            confirm.click()
            expect(browser).to_contain_text("Deleted knn:1.")
            expect(browser.get_by_text(re.compile("Evaluating"))).to_have_count(0)
            expect(browser.locator(".jms-comparison")).to_have_count(0)  # it compared knn:1: gone with it
            page.screenshot(path=str(screenshots / "browser_after_delete_1024.png"))

            # The comparison panel found the magics' registry without a service variable.
            _scroll_to(page, panel)
            choices = panel.locator("select[multiple]")
            listed = [text.replace("\xa0", " ").split(" · ")[0] for text in choices.locator("option").all_text_contents()]
            assert sorted(listed) == ["extratrees-1:1", "forest:1", "forest:2", "knn:1", "logreg:1"]
            choices.select_option(index=[listed.index("forest:2"), listed.index("logreg:1")])
            expect(panel.locator(".jms-comparison")).to_be_visible()
            metric = panel.locator("select:not([multiple])")
            assert "F1" in metric.locator("option").all_text_contents()
            metric.select_option(label="F1")
            expect(panel).to_contain_text("by F1")
            page.screenshot(path=str(screenshots / "panel_1024.png"))

            _menu(page, "File", "docmanager:save")
            expect(page.locator(".jp-mod-dirty")).to_have_count(0)
        finally:
            chrome.close()


SIZES = ((1024, 768), (1440, 900))
DARK = "JupyterLab Dark"
MIN_CONTRAST = 4.5  # WCAG AA for body text
MIN_BEST_DISTANCE = 45  # RGB distance of a best cell's background from its row's, in either theme

#: Run in the page on an element: what makes it hard to read. Every element under it with text of its
#: own is checked: its colour against its background (the backgrounds of its ancestors composited,
#: alpha included) must reach ``min`` (WCAG contrast ratio); in a dark theme every table cell must sit
#: on a dark background; a best value's cell must stand out from the other cells of its row (RGB
#: distance of the composited backgrounds ≥ ``minBest``). Returns the failures and the lowest ratio seen.
READABILITY = r"""(root, [min, dark, minBest]) => {
  const parse = (text) => {
    const m = text.match(/^rgba?\(([^)]+)\)$/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const luminance = (c) => {
    const ch = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  };
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = {r: 255, g: 255, b: 255, a: 1};  // the browser's canvas
    for (const e of chain) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const failures = [];
  let lowest = Infinity;
  const describe = (el) => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).trim().replace(/\s+/g, ".") : "")
    + " '" + el.textContent.trim().slice(0, 30) + "'";
  for (const el of [root, ...root.querySelectorAll("*")]) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || !el.getClientRects().length || style.visibility !== "visible") continue;
    const fg = parse(style.color);
    if (!fg) { failures.push(describe(el) + ": colour " + style.color); continue; }
    const bg = background(el);
    const [a, b] = [luminance(over(fg, bg)), luminance(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    lowest = Math.min(lowest, ratio);
    if (ratio < min) failures.push(describe(el) + ": contrast " + ratio.toFixed(2) + " (" + style.color + ")");
    if (dark && /^T[DH]$/.test(el.tagName) && luminance(bg) > 0.2) {
      failures.push(describe(el) + ": a light cell in the dark theme");
    }
  }
  // a best value stands out from the other cells of its row by more than its weight (RGB distance)
  for (const best of root.querySelectorAll("td.jms-best")) {
    const plain = [...best.parentElement.children].find((td) => td !== best && !td.classList.contains("jms-best"));
    if (!plain || !best.getClientRects().length) continue;
    const [a, b] = [background(best), background(plain)];
    const distance = Math.hypot(a.r - b.r, a.g - b.g, a.b - b.b);
    if (distance < minBest) failures.push(describe(best) + ": best cell background " + distance.toFixed(0) + " from its row's");
  }
  return {failures, lowest};
}"""

#: Run in the page on an ``<img>``: whether the chart is drawn, shown and opaque (a transparent chart
#: would leave matplotlib's black text on a dark theme's background).
CHART = r"""async (img) => {
  await img.decode();
  const style = getComputedStyle(img);
  const box = img.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let transparent = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] < 255) transparent += 1;
  return {natural: img.naturalWidth, width: box.width, height: box.height, opacity: style.opacity,
          visibility: style.visibility, display: style.display, transparent};
}"""


def _set_theme(server: LabServer, theme: str) -> None:
    """Store JupyterLab's theme setting (what Settings → Theme does); a page loaded after it uses it."""
    url = f"{server.base_url}/lab/api/settings/@jupyterlab/apputils-extension:themes?token={server.token}"
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 204


def _reads_without_widgets(page) -> None:
    """The reopened notebook shows the panels' saved views, no widget errors."""
    from playwright.sync_api import expect

    expect(page.locator(".jms-snapshot").first).to_be_visible(timeout=RUN_TIMEOUT)
    page.wait_for_timeout(3000)  # the widget manager gives up on the missing models by then
    for text in ("Error displaying widget", "Loading widget"):
        assert page.get_by_text(text).filter(visible=True).count() == 0, text
    snapshots = page.locator(".jms-snapshot")
    expect(snapshots).to_have_count(2)  # %models and the comparison panel
    expect(snapshots.first).to_contain_text("forest")
    # the saved views show what the panels showed last: knn:1 deleted, forest:2 and logreg:1 compared
    expect(snapshots.first.locator("td", has_text=re.compile(r"^knn$"))).to_have_count(0)
    expect(snapshots.nth(1)).to_contain_text("Comparison of 2 models")
    expect(page.get_by_text(re.compile(r"^Cross-validation · 5/5 folds"))).to_have_count(1)


def _side_by_side(page, evaluation) -> None:
    from playwright.sync_api import expect

    sections = evaluation.locator(".jms-row").first.locator(":scope > .jms-section")
    for image in evaluation.locator("img").all():  # the layout settles once the charts are decoded
        expect(image).to_have_js_property("complete", True)
    tops = None
    for _ in range(60):  # a loaded machine may still be laying out the cell it scrolled to
        first, second = sections.nth(0).bounding_box(), sections.nth(1).bounding_box()
        tops = (first["y"], second["y"])
        if abs(tops[0] - tops[1]) < 2:
            break
        page.wait_for_timeout(250)
    assert abs(tops[0] - tops[1]) < 2, f"metrics and confusion matrix side by side, tops {tops}"


def _check_outputs(page, dark: bool, where: str, styled: bool = True) -> None:
    """Every HTML output of ours reads well: contrast, opaque charts, tables within the output area;
    with our stylesheet (a trusted notebook) best values stand out by their background too."""
    outputs = page.locator(".jp-OutputArea-output .jms")
    count = outputs.count()
    assert count >= 9, f"{where}: {count} outputs"  # 5 train cards, compare, evaluate, two saved views
    for i in range(count):
        output = outputs.nth(i)
        _scroll_to(page, output)  # cells out of view are not laid out (content-visibility)
        seen = output.evaluate(READABILITY, [MIN_CONTRAST, dark, MIN_BEST_DISTANCE if styled else 0])
        assert not seen["failures"], f"{where}, output {i}: {seen['failures'][:5]}"
        area = output.locator("xpath=ancestor::*[contains(@class, 'jp-OutputArea-output')][1]")
        assert _fits(page, output, area), f"{where}, output {i} is wider than the output area"
        for box in output.locator(".jms-scroll").all():  # its table may scroll inside; the box fits
            assert _fits(page, box, area), f"{where}, output {i}: a table box is wider than the output area"
        for img in output.locator("img").all():
            chart = img.evaluate(CHART)
            assert chart["natural"] > 200 and chart["width"] > 100 and chart["height"] > 100, (where, chart)
            assert (chart["opacity"], chart["visibility"]) == ("1", "visible") and chart["display"] != "none"
            assert chart["transparent"] == 0, f"{where}, output {i}: a chart with transparent pixels"
            assert _fits(page, img, area), f"{where}, output {i}: a chart wider than the output area"


def reopen(server: LabServer, screenshots: Path, name: str) -> None:
    """Open the saved notebook in a fresh JupyterLab: it must read well without its widgets, at both
    window sizes, in the light and the dark theme."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        chrome = _chromium(pw)
        try:
            page = _open(chrome, server, *SIZES[0])
            for theme in ("light", "dark"):
                if theme == "dark":
                    _set_theme(server, DARK)
                    page.reload(timeout=STEP_TIMEOUT)
                    expect(page.locator(f"body[data-jp-theme-name='{DARK}']")).to_have_count(1, timeout=RUN_TIMEOUT)
                    assert page.locator("body").get_attribute("data-jp-theme-light") == "false"
                _reads_without_widgets(page)
                for width, height in SIZES if theme == "light" else SIZES[::-1]:
                    where = f"{name}, {theme}, {width}×{height}"
                    page.set_viewport_size({"width": width, "height": height})
                    evaluation = page.locator(".jms-evaluation")
                    _scroll_to(page, evaluation)
                    _side_by_side(page, evaluation)
                    _check_outputs(page, theme == "dark", where, styled=name == "trusted")
                    for shot, output in (("compare", page.locator(".jms-comparison").first),
                                         ("evaluate", evaluation),
                                         ("models", page.locator(".jms-snapshot").first)):
                        _scroll_to(page, output)
                        if shot == "evaluate":
                            _side_by_side(page, evaluation)
                        page.screenshot(path=str(screenshots / f"reopened_{name}_{theme}_{width}_{shot}.png"))
        finally:
            chrome.close()


def test_narrow_window_then_reopened_trusted_and_untrusted(lab, tmp_path):
    from jupyter_modelservice import ModelService

    shots = tmp_path / "shots"
    shots.mkdir()
    first = lab(wine_notebook(tmp_path / "notebook"))
    run_in_a_narrow_window(first, shots)
    saved = first.root / "wine.ipynb"
    with ModelService(models_directory=first.root / "models") as service:
        assert {f"{r['model_id']}:{r['version']}" for r in service.list_models()} == {
            "forest:1", "forest:2", "extratrees-1:1", "logreg:1"}
        assert service.get_model_metadata("extratrees-1")["cv_scores"]["cv_folds"] == 5
    first.stop()

    reopen(lab(saved), shots, "trusted")  # the same user's save: JupyterLab trusts it

    notebook = json.loads(saved.read_text())
    notebook["cells"].insert(0, {"cell_type": "markdown", "id": "edited", "metadata": {},
                                 "source": "Changed outside JupyterLab: no longer trusted."})
    untrusted = tmp_path / "untrusted" / "wine.ipynb"
    untrusted.parent.mkdir()
    untrusted.write_text(json.dumps(notebook))
    server = lab(untrusted)
    reopen(server, shots, "untrusted")
    assert len(list(shots.glob("*.png"))) == 4 + 2 * 2 * len(SIZES) * 3
