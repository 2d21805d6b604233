"""The pages in a real browser: sign in, the list, one assessment and its chart, a review, the ADR, sign out.

Every page: no console error, every request to the service's own origin, a screenshot under tmp_path.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from advisor.auth.clients import Role
from tests.browser.conftest import LiveServer
from tests.conftest import issue_key
from tests.factories import profile_dict

pytestmark = pytest.mark.browser


def click_and_wait(driver: webdriver.Chrome, by: str, value: str) -> None:
    """Click what loads a new page, and wait until the browser has left the old one."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(by, value).click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def logs(driver: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    """The browser's log of ``kind`` since the last read (Selenium leaves ``get_log`` untyped)."""
    entries: list[dict[str, Any]] = driver.get_log(kind)  # type: ignore[no-untyped-call]
    return entries


class Visit:
    """Checks every page the browser shows: console, origin of every request, a screenshot."""

    def __init__(self, driver: webdriver.Chrome, origin: str, shots: Path) -> None:
        self.driver, self.origin, self.shots = driver, origin, shots
        shots.mkdir(exist_ok=True)
        self.count = 0

    def check(self, name: str) -> None:
        self.count += 1
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, max(800, min(int(height), 10_000)))  # the whole page in one picture
        self.driver.save_screenshot(str(self.shots / f"{self.count:02d}-{name}.png"))
        self.driver.set_window_size(1280, 1000)
        errors = [entry for entry in logs(self.driver, "browser") if entry["level"] == "SEVERE"]
        assert errors == [], f"console errors on {name}: {errors}"
        for url in self.requested():  # the browser's own chrome:// pages are not the page's requests
            if url.split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp"):
                assert url.startswith(f"{self.origin}/"), f"{name} requested {url} (not this origin)"
        resources = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        for url in resources:
            assert url.startswith(f"{self.origin}/"), f"{name} loaded {url} (not this origin)"

    def requested(self) -> list[str]:
        urls = []
        for entry in logs(self.driver, "performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls


def test_a_reviewer_signs_in_reads_reviews_and_signs_out(live_server: LiveServer, browser: webdriver.Chrome,
                                                        tmp_path: Path) -> None:
    origin = live_server.url
    assessor = issue_key(live_server.app, Role.ASSESSOR, "hr-portal")
    reviewer = issue_key(live_server.app, Role.REVIEWER, "board-member")
    created = httpx.post(f"{origin}/assess", json=profile_dict(workload={"daily_tokens": 300_000_000},
                                                                team={"ml_infra_engineers": 3}),
                         headers={"Authorization": f"Bearer {assessor}"})
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    visit = Visit(browser, origin, tmp_path / "screenshots")

    browser.get(f"{origin}/ui/")
    assert browser.current_url.startswith(f"{origin}/ui/sign-in")
    visit.check("sign-in")
    browser.find_element(By.ID, "api_key").send_keys(reviewer)
    click_and_wait(browser, By.ID, "sign-in")
    assert browser.current_url.rstrip("/") == f"{origin}/ui"
    visit.check("list")
    click_and_wait(browser, By.LINK_TEXT, "Acme")
    assert browser.current_url == f"{origin}/ui/assessments/{record['id']}"
    visit.check("assessment")

    chart = browser.find_element(By.ID, "cost-chart")
    size = chart.size
    assert size["width"] > 300
    assert size["height"] > 150
    drawn = browser.execute_script("return document.querySelectorAll('#cost-chart path').length")
    assert drawn > 10
    assert "Monthly cost against daily volume" in str(chart.find_element(By.TAG_NAME, "title").get_attribute(
        "textContent"))
    profile_row = browser.find_element(By.CSS_SELECTOR, "#chart-data tr.marked")
    assert profile_row.find_element(By.TAG_NAME, "th").get_attribute("data-volume") == "300000000"
    shown = [cell.get_attribute("data-usd") for cell in profile_row.find_elements(By.TAG_NAME, "td")]
    series = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#chart-data thead th")][1:]
    labels = {"managed API": "managed", "self-hosting": "self_hosted", "hybrid routing": "hybrid"}
    expected = [record["options"][labels[label]]["monthly_usd"] for label in series]
    assert [Decimal(v) if v else None for v in shown] == [Decimal(v) if v else None for v in expected]
    for option, values in record["options"].items():  # the side-by-side table shows the JSON's totals
        cell = browser.find_element(By.CSS_SELECTOR, f"#options td.money[data-option='{option}']")
        assert (cell.get_attribute("data-monthly") or None) == values["monthly_usd"]
    chart.screenshot(str(tmp_path / "screenshots" / "chart.png"))

    # A verdict through the form: a signed review record, and the status changes.
    assert browser.find_element(By.ID, "status").text == "proposed"
    browser.find_element(By.CSS_SELECTOR, "input[name='verdict'][value='accept']").click()
    browser.find_element(By.ID, "comment").send_keys("Costs and risks are as we see them.")
    click_and_wait(browser, By.ID, "submit-review")
    assert browser.find_element(By.ID, "status").text == "accepted"
    assert browser.find_element(By.CSS_SELECTOR, "#reviews td.verdict").text == "accept"
    visit.check("reviewed")
    stored = httpx.get(f"{origin}/assessments/{record['id']}/reviews", headers={"Authorization": f"Bearer {reviewer}"})
    assert stored.json()["status"] == "accepted"
    assert [r["comment"] for r in stored.json()["reviews"]] == ["Costs and risks are as we see them."]

    # The decision record, downloaded as a file: the same text the API serves.
    browser.find_element(By.ID, "adr-link").click()
    saved = tmp_path / "downloads" / f"adr-{record['id']}.md"
    deadline = time.monotonic() + 30
    while not saved.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    served = httpx.get(f"{origin}/assessments/{record['id']}/adr", headers={"Authorization": f"Bearer {reviewer}"})
    assert saved.read_text(encoding="utf-8") == served.text
    assert served.text.startswith("---\nstatus: accepted\n")

    # Sign out: the pages ask for a key again.
    click_and_wait(browser, By.ID, "sign-out")
    assert browser.current_url.startswith(f"{origin}/ui/sign-in")
    visit.check("signed-out")
    browser.get(f"{origin}/ui/assessments/{record['id']}")
    assert browser.current_url.startswith(f"{origin}/ui/sign-in")
