"""`cablearchive serve` in a real browser: Debian's Chromium driven by Selenium, screenshots kept.

The walk goes list → cable → version diff → mirror diff → search → capture, asserting what each
page shows, then the hostile cable: its markup shows as text and no script runs. A screenshot
of each page is saved in the test's temporary folder, or in $SERVE_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve_support import XSS_REF, XSS_SCRIPT, Served, build_archive, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver packages (/usr/bin/chromium, /usr/bin/chromedriver)",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(build_archive(tmp_path_factory.mktemp("browse") / "archive")) as served:
        yield served


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    folder = os.environ.get("SERVE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, folder: Path, name: str) -> Path:
    """A full-page screenshot (the whole scroll height, up to 6000 px) saved as folder/name.png."""
    height = min(6000, int(driver.execute_script("return document.documentElement.scrollHeight")))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1},
        },
    )
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 5000  # a page, not a blank
    return path


def no_alert(driver: Any) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018
    except NoAlertPresentException:
        return True
    return False


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast of two CSS rgb()/rgba() colours as getComputedStyle gives them."""

    def channels(c: str) -> list[float]:
        return [float(x) for x in c[c.index("(") + 1 : c.index(")")].split(",")[:3]]

    def lum(c: str) -> float:
        lin = [
            x / 255 / 12.92 if x / 255 <= 0.03928 else ((x / 255 + 0.055) / 1.055) ** 2.4 for x in channels(c)
        ]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def check_highlight_contrast(driver: Any) -> int:
    """Every del/ins/badge/mark on the page has a contrast of at least 4.5:1; returns how many were checked."""
    pairs = driver.execute_script(
        "return Array.from(document.querySelectorAll('del, ins, .badge, mark')).map(e => {"
        " const s = getComputedStyle(e); return [e.tagName + '.' + e.className, s.color, s.backgroundColor]; })"
    )
    for name, fg, bg in pairs:
        assert not bg.startswith("rgba(0, 0, 0, 0)"), f"{name} has no background of its own"
        assert contrast(fg, bg) >= 4.5, (name, fg, bg, round(contrast(fg, bg), 2))
    return len(pairs)


def test_walk_list_cable_diffs_search_capture(browser: Any, site: Served, shots: Path) -> None:
    b = browser
    b.get(site.url)
    assert "1 redaction" in b.find_element(By.ID, "newest").text
    check_highlight_contrast(b)
    screenshot(b, shots, "01-home")

    b.find_element(By.LINK_TEXT, "Cables").click()
    rows = b.find_elements(By.CSS_SELECTOR, "table#cables tr")
    assert len(rows) == 6 and "5 found" in b.find_element(By.TAG_NAME, "h1").text
    b.find_element(By.CSS_SELECTOR, "#facet-classification").find_element(
        By.LINK_TEXT, "CONFIDENTIAL"
    ).click()
    assert "CONFIDENTIAL" in b.current_url and len(b.find_elements(By.CSS_SELECTOR, "table#cables tr")) >= 2
    screenshot(b, shots, "02-cables")

    b.find_element(By.LINK_TEXT, "10HARARE93").click()
    assert b.find_element(By.ID, "ref").text == "10HARARE93"
    assert "Version 2 of 2" in b.page_source
    assert b.find_elements(By.CSS_SELECTOR, "#text .para a.pilcrow")
    versions = b.find_element(By.ID, "versions").text
    assert "v1" in versions and "v2" in versions and "1 redaction" in versions
    screenshot(b, shots, "03-cable")

    b.find_element(By.CSS_SELECTOR, "a.difflink").click()
    dels = [e.text for e in b.find_elements(By.CSS_SELECTOR, "del.k-redaction")]
    assert dels == ["Mudarikwa,"]
    assert "1 redaction" in b.find_element(By.CSS_SELECTOR, "p.summary").text
    assert check_highlight_contrast(b) > 5
    screenshot(b, shots, "04-version-diff")
    b.find_element(By.ID, "view-inline").click()
    assert b.find_element(By.CSS_SELECTOR, ".inline ins").text == "XXXXXXXXXXXX,"
    screenshot(b, shots, "05-version-diff-inline")

    b.get(site.url + "cable/06MADRID76")
    mirrors = b.find_element(By.ID, "mirrors").text
    assert "preferred" in mirrors and "Distance to consensus" in mirrors
    b.find_element(By.CSS_SELECTOR, "a.mirrordiff").click()
    assert "re-wrapped lines hidden" in b.find_element(By.ID, "toolbar").text
    summary = b.find_element(By.CSS_SELECTOR, "p.summary").text
    assert "whitespace" not in summary and "redaction" in summary
    check_highlight_contrast(b)
    screenshot(b, shots, "06-mirror-diff")
    b.find_element(By.ID, "show-wrapping").click()
    assert "wrapping=show" in b.current_url
    folded = b.find_elements(By.XPATH, "//summary[contains(., 'differ only in spacing')]")
    assert folded and all(not s.find_element(By.XPATH, "..").get_attribute("open") for s in folded)
    screenshot(b, shots, "07-mirror-diff-wrapping-shown")

    box = b.find_element(By.CSS_SELECTOR, "nav.top input[name=q]")
    box.send_keys("Zimbabwe\n")
    # Enter submits the form: wait for the results page, not the page it was typed on.
    WebDriverWait(b, 20).until(lambda d: "/search" in d.current_url and d.find_elements(By.ID, "hits"))
    hits = b.find_elements(By.CSS_SELECTOR, "#hits > li")
    assert hits and "10HARARE93" in hits[0].text
    assert any(m.text.lower().startswith("zimbabwe") for m in b.find_elements(By.CSS_SELECTOR, "#hits mark"))
    screenshot(b, shots, "08-search")

    b.get(site.url + "cable/10HARARE93")
    b.find_element(By.CSS_SELECTOR, "#versions a[href^='/capture/']").click()
    assert "mirror-a.example" in b.find_element(By.ID, "provenance").text
    assert b.find_element(By.ID, "download").get_attribute("href").endswith("/warc")
    frame = b.find_element(By.ID, "captured")
    assert frame.get_attribute("sandbox") == ""
    b.switch_to.frame(frame)
    assert (
        "Harare" in b.find_element(By.TAG_NAME, "body").text
        or "HARARE" in b.find_element(By.TAG_NAME, "body").text
    )
    b.switch_to.default_content()
    screenshot(b, shots, "09-capture")


def test_hostile_cable_shows_markup_as_text(browser: Any, site: Served, shots: Path) -> None:
    b = browser
    b.get(site.url + f"cable/{XSS_REF}")
    assert no_alert(b)
    assert XSS_SCRIPT in b.find_element(By.ID, "subject").text
    assert XSS_SCRIPT in b.find_element(By.ID, "text").text
    assert not b.find_elements(By.CSS_SELECTOR, ".content script, .content b, .content img")
    screenshot(b, shots, "10-hostile-cable")

    b.find_element(By.CSS_SELECTOR, "#mirrors a[href^='/capture/']").click()
    assert no_alert(b)
    assert "<script>alert('title')</script>" in b.find_element(By.ID, "page-title").text
    b.switch_to.frame(b.find_element(By.ID, "captured"))
    # The captured page is there, but its script did not run and its image was not fetched.
    assert "A hostile page" in b.find_element(By.TAG_NAME, "h1").text
    assert b.execute_script("return document.title") != "scripted"
    assert b.execute_script("return document.querySelector('img').naturalWidth") == 0
    b.switch_to.default_content()
    assert no_alert(b)
    screenshot(b, shots, "11-hostile-capture")

    b.get(site.url + "search?q=alert")
    assert no_alert(b)
    assert "10XSSPOST1" in b.find_element(By.ID, "hits").text
    screenshot(b, shots, "12-hostile-search")
