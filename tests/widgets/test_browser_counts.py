"""RegistryBrowser over many matches: counted up to a cap ("1,000+"), paging past the cap, no count
on the last page, and the last page shown when the page on screen went away."""

from __future__ import annotations

import pytest

from jupyter_modelservice.notebook import browser as browser_module
from jupyter_modelservice.widgets import RegistryBrowser


@pytest.fixture
def eleven(service):
    """``service`` with m0:1 … m10:1 (RandomForestClassifier, m7 a SVC), m10 the newest."""
    for i in range(11):
        service.registry.add_version({"model_id": f"m{i}", "model_class": "SVC" if i == 7 else
                                      "RandomForestClassifier", "training_date": f"2026-01-01T00:00:{i:02d}+00:00"})
    return service


@pytest.fixture
def counted(eleven, monkeypatch):
    """The limits of every ``Registry.count`` call."""
    calls = []
    original = eleven.registry.count

    def spy(**kwargs):
        calls.append(kwargs.get("limit"))
        return original(**kwargs)

    monkeypatch.setattr(eleven.registry, "count", spy)
    monkeypatch.setattr(browser_module, "COUNT_CAP", 4)
    return calls


def refs(browser):
    return [value for _, value in browser.table.options]


def test_counts_stop_at_the_cap_and_the_label_says_so(eleven, counted):
    browser = RegistryBrowser(eleven, namespace={}, page_size=3)
    assert refs(browser) == ["m10:1", "m9:1", "m8:1"]
    assert counted == [5]  # the cap, and one more to tell "more"
    assert (browser.total_, browser.total_capped_, browser.page_count) == (4, True, 2)
    assert browser.page_label.value == "page 1 of 2+ (4+ versions)"
    assert "page 1 of 2+ (4+ versions)" in browser.to_text()
    assert "page 1 of 2+" in browser.snapshot_html()
    assert not browser.next_button.disabled and browser.prev_button.disabled


def test_pages_go_on_past_the_cap_to_the_last_one(eleven, counted):
    browser = RegistryBrowser(eleven, namespace={}, page_size=3)
    browser.next_button.click()
    assert refs(browser) == ["m7:1", "m6:1", "m5:1"]
    assert counted[-1] == 7 and browser.page_label.value == "page 2 of 2+ (6+ versions)"  # counted to this page
    browser.next_button.click()
    assert refs(browser) == ["m4:1", "m3:1", "m2:1"]
    assert browser.page_label.value == "page 3 of 3+ (9+ versions)" and not browser.next_button.disabled
    calls = len(counted)
    browser.next_button.click()
    assert refs(browser) == ["m1:1", "m0:1"] and len(counted) == calls  # the last page: known without counting
    assert browser.page_label.value == "page 4 of 4 (11 versions)" and not browser.total_capped_
    assert browser.next_button.disabled and not browser.prev_button.disabled
    browser.prev_button.click()
    assert refs(browser) == ["m4:1", "m3:1", "m2:1"] and browser.page_label.value == "page 3 of 3+ (9+ versions)"


def test_fewer_matches_than_the_cap_are_counted_exactly(eleven, counted):
    browser = RegistryBrowser(eleven, namespace={}, page_size=2, search="m1")  # m1, m10
    assert refs(browser) == ["m10:1", "m1:1"] and counted == []  # one page: nothing to count
    assert browser.page_label.value == "page 1 of 1 (2 versions)" and browser.next_button.disabled
    browser.search.value = "forest"  # 10 matches, more than a page and than the cap
    assert browser.page_label.value == "page 1 of 2+ (4+ versions)"
    browser.status_filter.value = "production"
    assert refs(browser) == [] and browser.page_label.value == "page 1 of 1 (0 versions)"
    browser.status_filter.value = "all"
    browser.search.value = "svc"
    assert refs(browser) == ["m7:1"] and browser.page_label.value == "page 1 of 1 (1 version)"
    browser.search.value = "m"
    browser.page_size = 4
    browser.refresh()
    assert browser.page_label.value == "page 1 of 1+ (4+ versions)"  # a cap of one page's rows: "1+"


def test_a_page_that_went_away_shows_the_last_page(eleven, counted):
    browser = RegistryBrowser(eleven, namespace={}, page_size=3)
    for _ in range(3):
        browser.next_button.click()
    assert refs(browser) == ["m1:1", "m0:1"]
    eleven.registry.delete("m1")
    eleven.registry.delete("m0")
    browser.refresh_button.click()
    assert refs(browser) == ["m4:1", "m3:1", "m2:1"]
    assert browser.page_label.value == "page 3 of 3 (9 versions)" and browser.next_button.disabled
    browser.page = 40  # far past the end
    browser.refresh()
    assert browser.page == 2 and refs(browser) == ["m4:1", "m3:1", "m2:1"]


def test_the_real_cap_shows_a_thousand_plus(service):
    from jupyter_modelservice.registry.schema import model_metadata

    with service.registry.atomic() as conn:
        conn.execute(model_metadata.insert(), [
            {"model_id": f"m{i}", "version": 1, "model_class": "SVC", "status": "saved",
             "training_date": f"2026-01-01T00:00:00.{i:06d}+00:00"} for i in range(1005)])
    browser = RegistryBrowser(service, namespace={}, page_size=15)
    assert browser_module.COUNT_CAP == 1000
    assert browser.page_label.value == "page 1 of 67+ (1,000+ versions)"
    browser.search.value = "m100"  # m100, m1000 … m1004
    assert browser.page_label.value == "page 1 of 1 (6 versions)"
