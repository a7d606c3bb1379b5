"""The registry browser in a real JupyterLab, driven by Chromium through Playwright."""

from __future__ import annotations

import re

import pytest

from .conftest import CHROMIUM_ARGS, browser_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT = 240_000  # ms: kernel start, imports and training on a busy 2-core machine
STEP_TIMEOUT = 90_000  # ms: one widget round trip


def _wait_option_count(page, select, count):
    page.wait_for_function(
        "([select, n]) => select.options.length === n",
        arg=[select.element_handle(), count], timeout=STEP_TIMEOUT,
    )


def test_filter_select_and_promote_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from jupyter_modelservice import ModelService

    models = tmp_path / "models"
    server = lab(browser_notebook(tmp_path / "notebook", models))
    screenshot = tmp_path / "registry_browser.png"
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = chrome.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(STEP_TIMEOUT)
            page.goto(server.notebook_url, timeout=STEP_TIMEOUT)
            # The kernel exists and is idle (the toolbar can say idle earlier).
            expect(page.get_by_text(re.compile(r"\(ipykernel\) \| Idle"))).to_be_visible(
                timeout=RUN_TIMEOUT)
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()

            panel = page.locator(".jms-browser")
            expect(panel).to_be_visible(timeout=RUN_TIMEOUT)
            table = panel.locator("select[multiple]")
            _wait_option_count(page, table, 3)
            expect(panel.get_by_text("page 1 of 1 (3 versions)")).to_be_visible()

            # Filter: only the two forest versions remain.
            search = panel.locator("input[placeholder^='search id']")
            search.fill("forest")
            search.press("Enter")
            _wait_option_count(page, table, 2)
            expect(panel.get_by_text("page 1 of 1 (2 versions)")).to_be_visible()
            labels = [text.split() for text in table.locator("option").all_inner_texts()]
            assert [cells[:2] for cells in labels] == [["forest", "2"], ["forest", "1"]]

            # Select forest:1: its details appear.
            table.select_option(index=1)
            details = panel.locator(".jms-details")
            expect(details).to_contain_text("forest:1 — RandomForestClassifier")
            expect(details).to_contain_text("n_estimators")
            expect(panel.locator("img[src^='data:image/png']")).to_be_visible()  # importance chart

            # Promote it.
            panel.get_by_role("button", name="Set status → production").click()
            expect(panel).to_contain_text("forest:1: saved → production.")
            expect(table.locator("option").nth(1)).to_contain_text("production")
            expect(details.locator(".jms-status-production")).to_be_visible()
            page.screenshot(path=str(screenshot))
            panel.screenshot(path=str(tmp_path / "registry_browser_panel.png"))
        finally:
            chrome.close()

    assert screenshot.stat().st_size > 10_000
    with ModelService(models_directory=models) as service:
        assert service.get_model_metadata("forest:1")["status"] == "production"
        assert service.get_model_metadata("forest:2")["status"] == "saved"
        events = service.model_history("forest", 1)
        assert (events[-1]["from_status"], events[-1]["to_status"]) == ("saved", "production")
