"""``python -m helpers site --out site`` (or ``make site``): the course as a website.

The site is built from the committed notebooks, never re-executed, with
mkdocs-material and mkdocs-jupyter: the README is the landing page, each notebook
a page in teaching order with its outputs and plots, and a client-side search that
works offline (even from ``file://``). mkdocs runs in strict mode, so a broken link
or a page missing from the navigation fails the build.

The sources are staged in a temporary folder: links between notebooks become links
between pages, and README links to repository files (benchmarks, the licence) point
at GitHub at the course's release tag.
"""

from __future__ import annotations

import html as html_text
import re
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

from helpers.course import facts

SITE_MARKER = ".pytorch-course-site"
"""A file in every built site, so a rebuild only ever replaces a folder this command made."""

NOTEBOOK_LINK = re.compile(r"\]\((?:\.\./notebooks/|\./)?(\d\d_\w+)\.ipynb(#[^)\s]*)?\)")
README_NOTEBOOK_LINK = re.compile(r"\]\(notebooks/(\d\d_\w+\.ipynb)(#[^)\s]*)?\)")
RELATIVE_LINK = re.compile(r"\]\((?!https?:|mailto:|#|notebooks/|CONTRIBUTING\.md)([^)\s]+)\)")
HEADING = re.compile(r'<h([1-6])[^>]*?\sid="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")
WIDE_PAGES_CSS = ".md-grid { max-width: 1400px; }\n"
"""Room for a notebook's code lines (the theme's default column is narrow for 100-character code)."""


class SiteError(Exception):
    """A site that must not be built; the message says why and what to do."""


def notebook_title(path: Path) -> str:
    """Return a notebook's title from its first cell, e.g. ``'01 · Tensors and autograd'``."""
    first = nbformat.read(path, as_version=4).cells[0].source.split("\n")[0]
    return first.removeprefix("# ").strip()


def page_links(markdown: str) -> str:
    """Turn links to sibling notebooks into links to their pages.

    Example:
        >>> page_links("see [notebook 06](06_the_training_loop.ipynb#curves)")
        'see [notebook 06](06_the_training_loop.html#curves)'
    """
    return NOTEBOOK_LINK.sub(lambda m: f"]({m[1]}.html{m[2] or ''})", markdown)


def github_links(markdown: str) -> str:
    """Point links to repository files that are not pages of the site at GitHub, at the release tag.

    Example:
        >>> github_links("[results](benchmarks/results.md)")[:60]
        '[results](https://github.com/runnable-pytorch-cheatsheet/cou'
    """
    return RELATIVE_LINK.sub(lambda m: f"]({facts.REPOSITORY_URL}/blob/{facts.PINNED_REF}/{m[1]})", markdown)


def stage_sources(docs: Path) -> list[Path]:
    """Copy the README, CONTRIBUTING.md and the notebooks into ``docs`` with their links fixed."""
    (docs / "notebooks").mkdir(parents=True)
    (docs / "course.css").write_text(WIDE_PAGES_CSS)
    readme = (facts.CHECKOUT_ROOT / "README.md").read_text(encoding="utf-8")
    (docs / "index.md").write_text(github_links(readme), encoding="utf-8")
    contributing = (facts.CHECKOUT_ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    (docs / "CONTRIBUTING.md").write_text(github_links(contributing.replace("](README.md", "](index.md")),
                                          encoding="utf-8")
    staged = []
    for path in facts.notebook_paths(facts.NOTEBOOKS_DIR):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = page_links(cell.source)
        nbformat.write(notebook, docs / "notebooks" / path.name)
        staged.append(docs / "notebooks" / path.name)
    return staged


def on_page_content(html: str, page, config, files) -> str:
    """mkdocs hook: point a notebook page's table of contents at its headings' real ids and titles.

    mkdocs-jupyter builds the contents from Markdown, where ``## Devices: `.to()` ``
    becomes ``#devices`` titled "Devices:", but nbconvert gives the heading
    ``id="devices-to"``; both list the headings (down to the contents' depth) in the
    same order, so entries and headings are matched by position.
    """
    if page.file.src_uri.endswith(".ipynb"):
        entries, pending = [], list(page.toc)
        while pending:
            entry = pending.pop(0)
            entries.append(entry)
            pending[:0] = entry.children
        deepest = max((entry.level for entry in entries), default=0)
        headings = [(heading_id, text) for level, heading_id, text in HEADING.findall(html) if int(level) <= deepest]
        if len(headings) == len(entries):
            for entry, (heading_id, text) in zip(entries, headings):
                entry.id = heading_id
                entry.title = html_text.unescape(TAG.sub("", text)).rstrip("¶").strip()
    return html


def site_config(docs: Path, out: Path, notebooks: list[Path]) -> dict:
    """Return the mkdocs configuration: material theme, offline search, one page per notebook."""
    return {
        "site_name": "The runnable PyTorch cheat sheet",
        "site_url": facts.site_url(),
        "repo_url": facts.REPOSITORY_URL,
        "docs_dir": str(docs),
        "site_dir": str(out),
        "use_directory_urls": False,
        "strict": True,
        "validation": {"omitted_files": "warn", "absolute_links": "warn", "unrecognized_links": "warn",
                       "anchors": "warn"},
        "theme": {"name": "material", "features": ["search.highlight", "content.code.copy"]},
        "plugins": [
            "search", "offline",
            {"mkdocs-jupyter": {"include": ["*.ipynb"], "execute": False, "include_source": False,
                                "cache": False, "toc_depth": 2}},
        ],
        "markdown_extensions": ["tables", "toc"],
        "hooks": [__file__],
        "extra_css": ["course.css"],
        "nav": [
            {"Home": "index.md"},
            {"Notebooks": [{notebook_title(path): f"notebooks/{path.name}"} for path in notebooks]},
            {"Contributing": "CONTRIBUTING.md"},
        ],
    }


def check_site_folder(out: Path) -> None:
    """Refuse to build into a folder with files this command did not make (mkdocs empties it first)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).exists())):
        raise SiteError(f"{out} exists and is not a site built by this command; mkdocs would delete "
                        "what is in it. Choose another --out folder, or move that one away.")


def build_site(out: Path) -> tuple[int, float]:
    """Build the site into ``out``; return (pages built, seconds taken).

    Example:
        >>> build_site(Path("site"))  # doctest: +SKIP
        (15, 9.8)
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    out = out.resolve()
    check_site_folder(out)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-site-") as staging:
        docs = Path(staging) / "docs"
        notebooks = stage_sources(docs)
        config_file = Path(staging) / "mkdocs.yml"
        config_file.write_text(yaml.safe_dump(site_config(docs, out, notebooks), sort_keys=False))
        build(load_config(str(config_file)))
    (out / SITE_MARKER).write_text("built by python -m helpers site\n")
    pages = len(notebooks) + 2
    return pages, time.perf_counter() - started
