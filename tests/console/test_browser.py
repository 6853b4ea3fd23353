"""The console in a real browser: Debian's chromium driven through chromium-driver (Selenium), no
browser download. A helpdesk user signs in, finds the caller as they type, sees the live figures
refresh, runs checks and sees each result arrive, and acknowledges and resolves a ticket from the
queue. Screenshots are kept in var/test-artifacts/console/ (at 1280x800) for a person to look at.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.console.conftest import PASSWORDS, ConsoleOffice
from tests.support.services import REPO
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "var" / "test-artifacts" / "console"
T = TypeVar("T")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.fail("chromium and chromium-driver are not installed: run deploy/install-deps.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",  # tests run as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    # the driver is named, so Selenium never looks for (or downloads) one of its own
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def wait(what: str, check: Callable[[], T | None], timeout: float = 30) -> T:
    """wait_until for a page: one still loading (a WebDriverException) is not there yet."""
    found = wait_until(check, timeout=timeout, interval=0.1, what=what, ignore=(WebDriverException,))
    assert found is not None
    return found


def shot(driver: WebDriver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def css(driver: WebDriver, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def fits_1280(driver: WebDriver) -> bool:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    return isinstance(width, int) and width <= 1280


def test_a_call_in_the_browser(browser: WebDriver, console_office: ConsoleOffice) -> None:
    o = console_office
    ticket = o.ghost_tickets["SN-GONE-3"]

    # sign in: the queue sends an anonymous browser to the login form, and back after it
    browser.get(o.url + "/")
    wait("the login form", lambda: "/login" in browser.current_url)
    browser.find_element(By.ID, "username").send_keys("hal")
    password = browser.find_element(By.ID, "password")
    password.send_keys(PASSWORDS["hal"])
    password.send_keys(Keys.ENTER)
    wait("the queue", lambda: css(browser, f"#ticket-{ticket}"))
    assert "paper empty" in browser.find_element(By.ID, "queue").text
    assert fits_1280(browser)
    shot(browser, "1-queue")

    # the caller rings: type into the search box, suggestions come as one types, Enter opens the PC
    search = browser.find_element(By.ID, "q")
    search.send_keys("pc-")
    wait(
        "suggestions for pc-",
        lambda: (
            {"agent:pc-a", "agent:pc-b"}
            <= {o.get_attribute("value") for o in css(browser, "#suggestions option")}
        ),
    )
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("agent:pc-a", Keys.ENTER)
    wait("the caller's page", lambda: browser.current_url.endswith("/pc/pc-a"))
    assert "pc-a" in browser.find_element(By.TAG_NAME, "h1").text
    cpu = wait("the CPU figure", lambda: css(browser, '#live [data-gauge="CPU"] [data-value]'))
    assert 0 <= float(cpu[0].text) <= 100
    assert "Black Toner" in browser.page_source and css(browser, "meter")
    # the live figures refresh by themselves
    wait(
        "a refresh of the live figures",
        lambda: browser.find_element(By.ID, "live").get_attribute("data-refreshed-at"),
    )
    assert css(browser, '#live [data-gauge="CPU"]')
    assert fits_1280(browser)
    shot(browser, "2-caller")

    # run checks during the call: each result shows as it arrives, the triage last
    clicked = time.monotonic()
    browser.find_element(By.CSS_SELECTOR, "#run-checks button").click()
    wait("the first check result", lambda: css(browser, "#checks article[data-check]"))
    first_after = time.monotonic() - clicked
    wait("all check results", lambda: css(browser, "#checks [data-checks-done]"), timeout=60)
    arrived = [a.get_attribute("data-check") for a in css(browser, "#checks article[data-check]")]
    assert set(arrived) == {"disk", "memory", "top_processes", "print_queue", "network_config", "triage"}
    assert arrived[0] == "disk" and first_after < 5, (arrived, first_after)
    shot(browser, "3-checks")

    # back to the queue: acknowledge from the queue, resolve on the ticket page
    browser.get(o.url + "/")
    row = wait("the ticket's row", lambda: css(browser, f"#ticket-{ticket}"))[0]
    total = int(browser.find_element(By.CSS_SELECTOR, '[data-count="total"]').text)
    row.find_element(By.CSS_SELECTOR, "form button").click()
    wait("acknowledged", lambda: "acknowledged" in browser.find_element(By.ID, f"ticket-{ticket}").text)
    browser.find_element(By.CSS_SELECTOR, f"#ticket-{ticket} td a").click()
    wait("the ticket page", lambda: browser.current_url.endswith(f"/tickets/{ticket}"))
    browser.find_element(By.ID, "resolve-text").send_keys("paper refilled", Keys.ENTER)
    wait("resolved", lambda: "resolved by hal" in browser.find_element(By.TAG_NAME, "main").text)
    assert "paper refilled" in browser.find_element(By.CSS_SELECTOR, ".timeline").text
    shot(browser, "4-ticket")
    browser.get(o.url + "/")
    wait("the queue without it", lambda: css(browser, '[data-count="total"]'))
    assert not css(browser, f"#ticket-{ticket}")
    assert int(browser.find_element(By.CSS_SELECTOR, '[data-count="total"]').text) == total - 1
    shot(browser, "5-queue-after")
