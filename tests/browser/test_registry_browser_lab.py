"""The registry browser in a real JupyterLab, driven by Chromium through Playwright."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import CHROMIUM_ARGS, LabServer, browser_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT = 240_000  # ms: kernel start, imports and training on a busy 2-core machine
STEP_TIMEOUT = 90_000  # ms: one widget round trip
QUICKSTART = Path(__file__).parents[2] / "notebooks" / "01_quickstart.ipynb"


def _wait_option_count(page, select, count):
    page.wait_for_function(
        "([select, n]) => select.options.length === n",
        arg=[select.element_handle(), count], timeout=STEP_TIMEOUT,
    )


def run_all_and_promote(server: LabServer, *, search: str, shown: list[str], ref: str,
                        screenshots: Path) -> None:
    """Open the notebook, Run All, filter the first registry browser by ``search`` (which must
    show exactly ``shown``, newest first), select ``ref`` and set it to production."""
    from playwright.sync_api import expect, sync_playwright

    model_id, version = ref.split(":")
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = chrome.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(STEP_TIMEOUT)
            page.goto(server.notebook_url, timeout=STEP_TIMEOUT)
            # Wait for the kernel itself (the toolbar can say idle before it exists).
            expect(page.get_by_text(re.compile(r"\(ipykernel\) \| Idle"))).to_be_visible(
                timeout=RUN_TIMEOUT)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()

            panel = page.locator(".jms-browser").first
            expect(panel).to_be_visible(timeout=RUN_TIMEOUT)
            table = panel.locator("select[multiple]")
            expect(table.locator("option").first).to_be_attached(timeout=RUN_TIMEOUT)

            search_box = panel.locator("input[placeholder^='id or class']")
            search_box.fill(search)
            search_box.press("Enter")
            _wait_option_count(page, table, len(shown))
            noun = "version" if len(shown) == 1 else "versions"
            expect(panel.get_by_text(f"page 1 of 1 ({len(shown)} {noun})")).to_be_visible()
            cells = [text.split() for text in table.locator("option").all_inner_texts()]
            assert [f"{c[0]}:{c[1]}" for c in cells] == shown

            index = shown.index(ref)
            table.select_option(index=index)
            details = panel.locator(".jms-details")
            expect(details).to_contain_text(f"{ref} — ")
            expect(panel.locator("img[src^='data:image/png']")).to_be_visible()  # importance chart

            panel.locator("select:not([multiple])").last.select_option(label="production")
            panel.get_by_role("button", name="Set status → production").click()
            expect(panel).to_contain_text(re.compile(rf"{re.escape(ref)}: \w+ → production\."))
            expect(table.locator("option").nth(index)).to_contain_text("production")
            expect(details.locator(".jms-status-production")).to_be_visible()
            page.screenshot(path=str(screenshots / "registry_browser.png"))
            panel.screenshot(path=str(screenshots / "registry_browser_panel.png"))
        finally:
            chrome.close()
    assert (screenshots / "registry_browser_panel.png").stat().st_size > 10_000


def test_filter_select_and_promote_in_jupyterlab(lab, tmp_path):
    from jupyter_modelservice import ModelService

    models = tmp_path / "models"
    server = lab(browser_notebook(tmp_path / "notebook", models))
    run_all_and_promote(server, search="forest", shown=["forest:2", "forest:1"], ref="forest:1",
                        screenshots=tmp_path)
    with ModelService(models_directory=models) as service:
        assert service.get_model_metadata("forest:1")["status"] == "production"
        assert service.get_model_metadata("forest:2")["status"] == "saved"
        events = service.model_history("forest", 1)
        assert (events[-1]["from_status"], events[-1]["to_status"]) == ("saved", "production")


def test_quickstart_models_browser_in_jupyterlab(lab, tmp_path):
    from jupyter_modelservice import ModelService

    server = lab(QUICKSTART)
    run_all_and_promote(server, search="forest", shown=["forest:1"], ref="forest:1",
                        screenshots=tmp_path)
    with ModelService(models_directory=server.root / "models_tutorial01") as service:
        assert service.get_model_metadata("forest:1")["status"] == "production"
