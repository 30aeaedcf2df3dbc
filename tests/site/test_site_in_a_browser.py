"""The built site as a reader sees it: headless Chromium opens every page, over HTTP and from file://.

Needs Chromium and its driver: Debian's chromium and chromium-driver (`.ci/run` installs them), or
the Chrome and chromedriver of GitHub's Ubuntu runners, and axe-core from npm (`.ci/run` installs
it; AXE_CORE_JS names its axe.min.js). Without them the test is skipped here and fails in CI,
where a skipped browser test would hide a broken site.
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.site import notebook_title

NOTEBOOKS = facts.notebook_paths()
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome") or "/usr/bin/chromium"
AXE_CORE_JS = Path(os.environ.get("AXE_CORE_JS", "node_modules/axe-core/axe.min.js"))
BLOCKING_IMPACTS = ("serious", "critical")


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


def required(what: str, advice: str):
    """Skip here, but fail in CI, where a skipped browser test would hide a broken site."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must install {what} (see .ci/run)")
    pytest.skip(f"no {what} here: {advice}")


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)):
        required("chromium and chromium-driver", "apt-get install -y chromium chromium-driver")
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
    for platform, url in (("Colab", facts.colab_url), ("Kaggle", facts.kaggle_url)):
        [badge] = browser.find_elements(By.CSS_SELECTOR, f'img[alt="Open In {platform}"]')
        assert badge.is_displayed() and badge.get_attribute("naturalWidth") != "0"  # drawn by the site itself
        assert badge.find_element(By.XPATH, "..").get_attribute("href") == url(notebook.name, facts.STUDENT_FOLDER)
        [reference] = browser.find_elements(By.CSS_SELECTOR, f'img[alt="Open In {platform} (with solutions)"]')
        assert reference.find_element(By.XPATH, "..").get_attribute("href") == url(notebook.name)
    [first, *_] = browser.find_elements(By.CSS_SELECTOR, ".jp-RenderedHTMLCommon a img")
    assert first.get_attribute("alt") == "Open In Colab"  # the first badge opens the student edition
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


def test_full_text_search_works_from_the_file_system(browser, site):
    """Opened from file:// (a copied folder, a USB stick), search still finds a notebook."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((site / "notebooks" / "03_datasets_and_loaders.html").as_uri())
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys("DistributedSampler")
    WebDriverWait(browser, 30).until(lambda _: any(hit.startswith("file://") and "12_distributed_training.html" in hit
                                                   for hit in search_hits(browser)))


def test_nothing_is_fetched_from_the_internet(browser, served):
    """Every resource a page loads comes from the site itself (fonts, scripts, badges, plots)."""
    foreign = set()
    for page in ["index.html", *[f"notebooks/{path.stem}.html" for path in NOTEBOOKS[:3]]]:
        browser.get(f"{served}/{page}")
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name);")
        foreign |= {url for url in loaded if not url.startswith((served, "data:", "blob:"))}
    assert foreign == set()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_every_plot_has_alt_text_saying_what_it_shows(browser, served, notebook):
    browser.get(f"{served}/notebooks/{notebook.stem}.html")
    alts = browser.execute_script("return [...document.querySelectorAll('.jp-OutputArea img')].map(i => i.alt);")
    assert all(alt.startswith("Plot") and len(alt) > len("Plot. ") and "No description" not in alt
               for alt in alts), alts


def test_an_exercise_shows_the_blank_cell_and_hides_its_solution(browser, served):
    from selenium.webdriver.common.by import By

    browser.get(f"{served}/notebooks/06_the_training_loop.html")
    [solution, *_] = browser.find_elements(By.CSS_SELECTOR, "details.course-solution")
    assert solution.find_element(By.TAG_NAME, "summary").text == "Show a solution"
    code = solution.find_element(By.TAG_NAME, "pre")
    assert not code.is_displayed()
    solution.find_element(By.TAG_NAME, "summary").click()
    assert code.is_displayed() and "def " in code.text
    cell = "arguments[0].parentElement.closest('.jp-Cell')"
    blank = browser.execute_script(f"return {cell}.previousElementSibling.innerText;", solution)
    assert "Your answer here" in blank
    check = browser.execute_script(f"return {cell}.nextElementSibling;", solution)
    assert "check." in check.text and not check.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")


@pytest.fixture
def phone(browser):
    """The browser at a phone's width (390 CSS px), set back afterwards."""
    browser.set_window_size(390, 844)
    yield browser
    browser.set_window_size(1280, 1000)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_a_notebook_page_reads_on_a_phone(phone, served, notebook):
    """At 390 px the page never scrolls sideways (code scrolls inside its block) and plots fill the column."""
    phone.get(f"{served}/notebooks/{notebook.stem}.html")
    layout = phone.execute_script(
        "const content = document.querySelector('.md-content__inner');"
        "const prompts = [...document.querySelectorAll('.jp-InputPrompt')].filter(p => p.offsetWidth > 0);"
        "const plots = [...document.querySelectorAll('.jp-OutputArea img')];"
        "return {page: document.documentElement.scrollWidth, window: window.innerWidth, prompts: prompts.length,"
        "        column: content.clientWidth, plots: plots.map(i => i.getBoundingClientRect().width)};")
    assert layout["page"] <= layout["window"]
    assert layout["prompts"] == 0
    assert all(width >= 0.9 * layout["column"] for width in layout["plots"]), layout


def axe_violations(browser) -> list[str]:
    """Run axe-core on the page open in ``browser``; return its serious and critical violations, one line each."""
    browser.execute_script(AXE_CORE_JS.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(result, list), result
    return [f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}x): "
            f"{violation['nodes'][0]['target']}" for violation in result if violation["impact"] in BLOCKING_IMPACTS]


def site_pages(site):
    return sorted(str(page.relative_to(site)) for page in site.rglob("*.html") if page.name != "404.html")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(browser, served, site, scheme):
    if not AXE_CORE_JS.is_file():
        required("axe-core", "npm install axe-core, and set AXE_CORE_JS to its axe.min.js")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
    try:
        found = {}
        for page in site_pages(site):
            browser.get(f"{served}/{page}")
            browser.execute_script("localStorage.clear();")
            browser.get(f"{served}/{page}")
            violations = axe_violations(browser)
            if violations:
                found[page] = violations
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert found == {}
