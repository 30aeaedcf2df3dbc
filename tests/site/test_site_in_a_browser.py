"""The built site as a reader sees it: headless Chromium opens every notebook's page, and searches.

Needs Chromium and its driver: Debian's chromium and chromium-driver (`.ci/run` installs them), or
the Chrome and chromedriver of GitHub's Ubuntu runners. Without them the test is skipped here
and fails in CI, where a skipped browser test would hide a broken site.
"""

import functools
import http.server
import os
import shutil
import threading

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.site import notebook_title

NOTEBOOKS = facts.notebook_paths()
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome") or "/usr/bin/chromium"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *arguments):
        """Keep the test output free of one line per request."""


@pytest.fixture(scope="module")
def served(site):
    """The site over HTTP on 127.0.0.1, as GitHub Pages would serve it; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (see .ci/run)")
        pytest.skip("no chromium/chromedriver here: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Nothing outside this machine can be reached here: fail other hosts at once (fonts, CDN scripts)
    # rather than wait seconds per page for each name lookup to give up.
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def rendered_images(browser):
    """Return (loaded, total) of the page's output images: loaded ones have a real width."""
    return browser.execute_script(
        "const images = [...document.querySelectorAll('.jp-OutputArea img, .output_png img')];"
        "return [images.filter(i => i.complete && i.naturalWidth > 0).length, images.length];")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_a_notebook_page_shows_its_title_plots_and_badges(browser, served, notebook):
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/notebooks/{notebook.stem}.html")
    assert browser.find_element(By.TAG_NAME, "h1").text.rstrip("¶").strip() == notebook_title(notebook)
    plots = sum("image/png" in output.get("data", {}) for cell in nbformat.read(notebook, as_version=4).cells
                for output in cell.get("outputs", []))
    assert rendered_images(browser) == [plots, plots]
    for platform, url in (("Colab", facts.colab_url(notebook.name)), ("Kaggle", facts.kaggle_url(notebook.name))):
        [badge] = browser.find_elements(By.CSS_SELECTOR, f'img[alt="Open In {platform}"]')
        assert badge.is_displayed()
        assert badge.find_element(By.XPATH, "..").get_attribute("href") == url
    navigation = browser.find_elements(By.CSS_SELECTOR, "nav.md-nav--primary a.md-nav__link")
    assert sum(link.get_attribute("href").endswith(".html") for link in navigation) >= len(NOTEBOOKS)


def search_hits(browser):
    """Return the addresses the search results link to (read at once: the list re-renders as you type)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('.md-search-result__item a')].map(link => link.href);")


def test_full_text_search_finds_a_notebook(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}/index.html")
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys("DistributedSampler")
    WebDriverWait(browser, 30).until(lambda _: any("12_distributed_training.html" in hit
                                                   for hit in search_hits(browser)))
