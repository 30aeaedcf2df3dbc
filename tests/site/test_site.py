"""The course website: every page, link, notebook and plot is there, and nothing shows raw JSON."""

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from helpers.course import facts
from helpers.course.records import RECORD_MIME_TYPE
from helpers.tools.site import SITE_MARKER, SiteError, build_site, notebook_title

NOTEBOOKS = facts.notebook_paths()


class Links(HTMLParser):
    """Collects the links (href, src) and element ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attributes):
        for name, value in attributes:
            if name in ("href", "src") and value:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parsed(page):
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def page_of(site, notebook):
    return site / "notebooks" / f"{notebook.stem}.html"


def test_every_internal_link_and_anchor_resolves(site):
    pages = sorted(page for page in site.rglob("*.html") if page.name != "404.html")  # 404 uses absolute links
    ids = {page: parsed(page).ids for page in pages}
    broken = []
    for page in pages:
        for link in parsed(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("data:", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids[target]:
                broken.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    assert broken == []
    assert len(pages) >= len(NOTEBOOKS) + 2


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_each_pages_contents_name_its_headings(site, notebook):
    page = page_of(site, notebook).read_text(encoding="utf-8")
    contents = page[page.index('md-nav--secondary'):]
    contents = contents[:contents.index("</nav>")]
    entries = re.findall(r'href="#([^"]+)"[^>]*>\s*<span class="md-ellipsis">\s*(.*?)\s*</span>', contents, re.S)
    headings = {heading_id: text for heading_id, text in
                re.findall(r'<h[1-6][^>]*?\sid="([^"]+)"[^>]*>(.*?)</h[1-6]>', page, re.S)}
    assert len(entries) >= 3
    for heading_id, title in entries:
        heading = html.unescape(re.sub(r"<[^>]+>", "", headings[heading_id])).rstrip("¶").strip()
        assert html.unescape(title) == heading


def test_every_notebook_is_in_the_navigation_in_order(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    positions = [home.find(f'href="notebooks/{path.stem}.html"') for path in NOTEBOOKS]
    assert -1 not in positions and positions == sorted(positions)
    for path in NOTEBOOKS:
        assert f"{notebook_title(path)}" in home.replace("&middot;", "·")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem[:2] for path in NOTEBOOKS])
def test_each_page_has_its_badges_plots_and_plain_recorded_figures(site, notebook):
    page = page_of(site, notebook).read_text(encoding="utf-8")
    cells = nbformat.read(notebook, as_version=4).cells
    outputs = [output for cell in cells if cell.cell_type == "code" for output in cell.outputs]
    images = sum("image/png" in output.get("data", {}) for output in outputs)
    assert page.count('src="data:image/png;base64,') == images
    assert facts.colab_url(notebook.name) in page and facts.kaggle_url(notebook.name).split("?")[1] in page
    assert RECORD_MIME_TYPE not in page
    records = [output.data["text/plain"] for output in outputs if RECORD_MIME_TYPE in output.get("data", {})]
    for text in records:
        assert text.split("\n")[0].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page


def test_the_readme_is_the_landing_page_and_repository_files_link_to_github(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "The runnable PyTorch cheat sheet" in home
    assert f"{facts.REPOSITORY_URL}/blob/{facts.PINNED_REF}/benchmarks/results.md" in home
    assert (site / "search" / "search_index.js").exists()  # the offline search's index


def test_the_build_never_replaces_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="not a site built by this command"):
        build_site(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_rebuild_may_replace_its_own_site(site):
    assert (site / SITE_MARKER).exists()
