"""The course website: every page, link, notebook and plot is there, and nothing shows raw JSON."""

import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from helpers.course import facts
from helpers.course.records import RECORD_MIME_TYPE
from helpers.tools import site as site_tool
from helpers.tools.site import SITE_MARKER, SiteError, build_site, notebook_title, read_manifest, swap_in
from helpers.tools.student_edition import student_notebook

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
    # the page shows the outputs a learner sees: the student edition's (no solution, no check's verdict)
    cells = student_notebook(nbformat.read(notebook, as_version=4), notebook.name).cells
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
    assert f"{facts.REPOSITORY_URL}/blob/{facts.PINNED_REF}/LICENSE" in home
    notes = (site / "maintainers.html").read_text(encoding="utf-8")
    assert f"{facts.REPOSITORY_URL}/blob/{facts.PINNED_REF}/benchmarks/results.md" in notes
    assert 'href="maintainers.html"' in home and 'href="CONTRIBUTING.html"' in home
    assert (site / "search" / "search_index.js").exists()  # the offline search's index


def test_a_guide_the_site_lacks_is_linked_on_github(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    if (facts.CHECKOUT_ROOT / "docs" / "instructors.md").exists():
        assert 'href="instructors.html"' in home
    else:
        assert f"{facts.REPOSITORY_URL}/blob/{facts.PINNED_REF}/docs/instructors.md" in home


def test_the_build_never_replaces_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="not a site built by this command"):
        build_site(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_rebuild_may_replace_its_own_site(site):
    assert (site / SITE_MARKER).exists()


def test_a_rebuild_keeps_what_a_learner_added_and_replaces_only_its_own_files(site):
    (site / "CNAME").write_text("course.example.org")
    (site / "notes").mkdir(exist_ok=True)
    (site / "notes" / "mine.md").write_text("my notes")
    (site / "index.html").write_text("stale")
    build_site(site)
    assert (site / "CNAME").read_text() == "course.example.org"
    assert (site / "notes" / "mine.md").read_text() == "my notes"
    assert "The runnable PyTorch cheat sheet" in (site / "index.html").read_text(encoding="utf-8")
    manifest = read_manifest(site)
    assert "index.html" in manifest and "CNAME" not in manifest and "notes/mine.md" not in manifest
    assert [path.name for path in site.parent.iterdir() if path.name.startswith(".site.building-")] == []


def test_a_failed_build_leaves_the_previous_site_as_it_was(site, monkeypatch):
    before = {path: path.read_bytes() for path in site.rglob("*.html")}

    def failing_build(config):
        raise RuntimeError("mkdocs failed")

    monkeypatch.setattr("mkdocs.commands.build.build", failing_build)
    with pytest.raises(RuntimeError, match="mkdocs failed"):
        build_site(site)
    assert {path: path.read_bytes() for path in site.rglob("*.html")} == before
    assert [path.name for path in site.parent.iterdir() if path.name.startswith(".site.building-")] == []


def a_build(folder, files):
    """Write a stand-in build: ``files`` maps relative paths to their text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_swap_in_removes_only_files_of_the_previous_build(tmp_path):
    out = a_build(tmp_path / "out", {"index.html": "old", "gone.html": "old", "CNAME": "mine"})
    new = a_build(tmp_path / "new", {"index.html": "new", "notebooks/06.html": "new"})
    written = swap_in(new, out, previous=["index.html", "gone.html"])
    assert written == ["index.html", "notebooks/06.html"]
    assert (out / "index.html").read_text() == "new" and not (out / "gone.html").exists()
    assert (out / "CNAME").read_text() == "mine"


def test_swap_in_never_writes_through_a_planted_link(tmp_path):
    elsewhere = a_build(tmp_path / "elsewhere", {"index.html": "someone else's", "06.html": "theirs"})
    out = a_build(tmp_path / "out", {})
    (out / "index.html").symlink_to(elsewhere / "index.html")
    (out / "old.html").symlink_to(elsewhere / "06.html")
    swap_in(a_build(tmp_path / "new", {"index.html": "new"}), out, previous=["index.html", "old.html"])
    assert not (out / "index.html").is_symlink() and (out / "index.html").read_text() == "new"
    assert not (out / "old.html").exists()  # the link is removed, its target is not
    assert (elsewhere / "index.html").read_text() == "someone else's" and (elsewhere / "06.html").exists()
    (out / "notebooks").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SiteError, match="below a link"):
        swap_in(a_build(tmp_path / "newer", {"notebooks/06.html": "new"}), out, previous=["index.html"])
    assert (elsewhere / "06.html").read_text() == "theirs"


@pytest.mark.parametrize("manifest", ['{"files": ["../outside.txt", "/etc/passwd", "index.html"]}', "not json",
                                      '{"files": "index.html"}', '{"other": []}'])
def test_a_manifest_never_names_a_file_outside_the_site(tmp_path, manifest):
    (tmp_path / SITE_MARKER).write_text(manifest)
    assert read_manifest(tmp_path) in (None, ["index.html"])


def test_a_manifest_that_is_a_link_is_not_adopted(tmp_path):
    (tmp_path / "elsewhere.json").write_text('{"files": ["notes.txt"]}')
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / SITE_MARKER).symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(SiteError, match="not a site built by this command"):
        site_tool.check_site_folder(out)


@pytest.mark.parametrize("kind", ["file", "link"])
def test_the_build_refuses_an_out_that_is_a_file_or_a_link(tmp_path, kind):
    target = tmp_path / "target"
    target.mkdir()
    out = tmp_path / "out"
    out.write_text("mine") if kind == "file" else out.symlink_to(target, target_is_directory=True)
    with pytest.raises(SiteError, match="not a folder this command made"):
        build_site(out)
    assert list(target.iterdir()) == []
