"""``python -m helpers site --out site`` (or ``make site``): the course as a website.

The site is built from the committed notebooks, never re-executed, with
mkdocs-material and mkdocs-jupyter: the README is the landing page, each notebook
a page in teaching order with its outputs and plots, and a client-side search that
works offline (even from ``file://``). mkdocs runs in strict mode, so a broken link
or a page missing from the navigation fails the build.

The sources are staged in a temporary folder: links between notebooks become links
between pages, and README links to repository files (benchmarks, the licence) point
at GitHub at the course's release tag. On each notebook page the exercises show the
blank answer cell of the student edition, with the reference solution in a collapsed
"Show a solution" block; the first badges open the student edition; every plot's alt
text comes from the figure (its titles and axis labels) or the cell that drew it.

Nothing is fetched from the internet when a page is viewed: no web fonts, the badges
are drawn locally, the ``file://`` search shim is served from the site (privacy and
offline plugins), so the site works from a USB stick. ``--out`` never loses a
learner's file: the site is built into a temporary folder beside ``out`` and swapped
in, replacing only the files listed in the manifest of the previous build.
"""

from __future__ import annotations

import ast
import html as html_text
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

from helpers.course import facts

SITE_MARKER = ".pytorch-course-site"
"""The manifest in every built site: the files this command wrote, the only ones a rebuild replaces."""
ASSETS_DIR = Path(__file__).resolve().parent / "site_assets"
"""The site's own styles, locally drawn badges and the vendored iframe-worker shim for ``file://`` search."""
ASSETS_FOLDER = "assets/course"
DOWNLOADS_FOLDER = "downloads"
"""Where the site keeps both editions of each notebook for download: ``downloads/notebooks``, ``downloads/student``."""
SOLUTION_SUMMARY = "Show a solution"

NOTEBOOK_LINK = re.compile(r"\]\((?:\.\./notebooks/|\./)?(\d\d_\w+)\.ipynb(#[^)\s]*)?\)")
RELATIVE_LINK = re.compile(r"\]\((?!https?:|mailto:|#|notebooks/|[\w-]+\.md(?:#|\))|assets/course/)([^)\s]+)\)")
"""A link to a repository file that is not a page of the site (pages: the notebooks, the .md files beside index.md)."""
HEADING = re.compile(r'<h([1-6])[^>]*?\sid="([^"]+)"[^>]*>(.*?)</h\1>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")
IMAGE_TAG = re.compile(r"<img\s[^>]*>")
NBCONVERT_PLACEHOLDER_ALT = 'alt="No description has been provided for this image"'
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)\s]+\)")
LABEL_CALLS = {"set_title": "title", "title": "title", "suptitle": "title", "set_xlabel": "x axis",
               "xlabel": "x axis", "set_ylabel": "y axis", "ylabel": "y axis"}
"""Matplotlib calls whose text says what a plot shows, and what the alt text calls that text."""


class SiteError(Exception):
    """A site that must not be built; the message says why and what to do."""


def notebook_title(path: Path) -> str:
    """Return a notebook's title from its first cell, e.g. ``'01 · Tensors and autograd'``."""
    first = nbformat.read(path, as_version=4).cells[0].source.split("\n")[0]
    return first.removeprefix("# ").strip()


def page_links(markdown: str) -> str:
    """Turn links to sibling notebooks into links to their pages.

    mkdocs rewrites ``.md`` links in Markdown pages, but mkdocs-jupyter leaves a
    notebook's ``(07_cuda_and_devices.ipynb)`` as it is, a link to a file the site
    does not have (``tests/test_site_links.py`` pins this).

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


def literal_text(node: ast.expr) -> str | None:
    """Return the text of a string literal, with an f-string's fields shown as ``…``; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) if isinstance(part, ast.Constant) else "…" for part in node.values)
    return None


def plot_labels(cell_source: str) -> list[str]:
    """Return what a cell's matplotlib calls say its plot shows: titles and axis labels, in order.

    Example:
        >>> plot_labels('axes.set(xlabel="epoch", ylabel="loss", title="Loss curve")')
        ['title: Loss curve', 'x axis: epoch', 'y axis: loss']
    """
    try:
        tree = ast.parse(cell_source)
    except SyntaxError:  # IPython syntax (magics): no labels to read
        return []
    labels: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        found = []
        if name in LABEL_CALLS and node.args:
            found.append((LABEL_CALLS[name], literal_text(node.args[0])))
        if name == "set":
            found += [(LABEL_CALLS[f"set_{k.arg}"], literal_text(k.value)) for k in node.keywords
                      if k.arg in ("title", "xlabel", "ylabel")]
        labels += [f"{what}: {text}" for what, text in sorted(found, key=lambda item: item[0] != "title") if text]
    return list(dict.fromkeys(labels))


def first_sentence(markdown: str) -> str:
    """Return the first sentence of a Markdown text's prose (its heading if it has none), without markup.

    Example:
        >>> first_sentence("## Curves\\n\\nThe **loss** falls. Then it rises.")
        'The loss falls.'
    """
    lines = [line.strip() for line in markdown.split("\n") if line.strip()]
    lines = [line for line in lines if not line.startswith("#")] or [line.lstrip("#").strip() for line in lines]
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", ". ".join(line.rstrip(".:") for line in lines))
    text = re.sub(r"[*_`]", "", text)
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text)[:300]


def figure_alt_text(cell_source: str, caption: str) -> str:
    """Return the alt text of a plot: its titles and axis labels, else the caption the notebook gives it.

    Example:
        >>> figure_alt_text('plt.gca().set(xlabel="epoch", ylabel="accuracy")', "Overfitting.")
        'Plot (x axis: epoch; y axis: accuracy). Overfitting.'
    """
    labels = plot_labels(cell_source)
    described = f"Plot ({'; '.join(labels)})." if labels else "Plot."
    return f"{described} {caption}".strip() if caption else described


def describe_figures(notebook: nbformat.NotebookNode) -> None:
    """Give every image output without alt text one: the figure's own description, else one from its cell.

    An image whose output already carries alt text (the course's setup writes the
    figure's titles and labels there when the notebook runs) keeps it.
    """
    caption = ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            caption = first_sentence(cell.source)
            continue
        for output in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg", "image/svg+xml"):
                if mime in output.get("data", {}):
                    metadata = output.setdefault("metadata", {}).setdefault(mime, {})
                    if not str(metadata.get("alt", "")).strip():
                        metadata["alt"] = figure_alt_text(cell.source, caption)


def collapse_solutions(notebook: nbformat.NotebookNode) -> None:
    """Show each exercise as the learner gets it: the student edition's blank cell, the solution collapsed.

    As in the student edition, the check cells after a solution show no output: the
    reference run's "correct" under a blank answer cell would say what is not so.
    """
    from helpers.tools.student_edition import stub_source

    cells, after_solution = [], False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            after_solution = False
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            cells.append(nbformat.v4.new_code_cell(stub_source(cell.source), metadata={"tags": ["exercise"]}))
            cells.append(nbformat.v4.new_markdown_cell(
                f'<details class="course-solution">\n<summary>{SOLUTION_SUMMARY}</summary>\n\n'
                f"```python\n{cell.source}\n```\n\n</details>"))
            after_solution = True
            continue
        if after_solution and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    notebook.cells = cells


def student_first_badges(notebook: nbformat.NotebookNode, notebook_name: str, assets: str) -> None:
    """Make the badge line open the student edition first; the reference edition is the one "with solutions"."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "badges" in cell.metadata.get("tags", []):
            lines = cell.source.rstrip("\n").split("\n")
            student = facts.open_badges(notebook_name, facts.STUDENT_FOLDER)
            reference = facts.open_badges(notebook_name, "notebooks", " (with solutions)")
            lines[-1] = local_badges(f"{student} With the solutions: {reference}", assets)
            cell.source = offline_images("\n".join(lines))


def local_badges(markdown: str, assets: str) -> str:
    """Point the Colab and Kaggle badge images at the site's own copies (nothing is fetched when viewing).

    Example:
        >>> local_badges(f"![Open In Colab]({facts.COLAB_BADGE_IMAGE})", "assets/course")
        '![Open In Colab](assets/course/colab-badge.svg)'
    """
    return (markdown.replace(facts.COLAB_BADGE_IMAGE, f"{assets}/colab-badge.svg")
            .replace(facts.KAGGLE_BADGE_IMAGE, f"{assets}/kaggle-badge.svg"))


def offline_images(markdown: str) -> str:
    """Replace the images that would be fetched from the internet (a CI status badge) by their alt text.

    Example:
        >>> offline_images("[![tests](https://github.com/o/r/badge.svg)](https://github.com/o/r/actions)")
        '[tests](https://github.com/o/r/actions)'
    """
    return REMOTE_IMAGE.sub(lambda m: m[1], markdown)


def stage_sources(docs: Path) -> list[Path]:
    """Copy the README, CONTRIBUTING.md, the guides in docs/, the notebooks and the site's assets into ``docs``."""
    (docs / "notebooks").mkdir(parents=True)
    shutil.copytree(ASSETS_DIR, docs / ASSETS_FOLDER)
    readme = (facts.CHECKOUT_ROOT / "README.md").read_text(encoding="utf-8")
    (docs / "index.md").write_text(offline_images(local_badges(github_links(guide_links(readme)), ASSETS_FOLDER)),
                                   encoding="utf-8")
    for path in [facts.CHECKOUT_ROOT / "CONTRIBUTING.md", *guide_paths()]:
        text = guide_links(path.read_text(encoding="utf-8"))
        for old, new in (("](README.md", "](index.md"), ("](../README.md", "](index.md"), ("](../", "](")):
            text = text.replace(old, new)
        (docs / path.name).write_text(offline_images(github_links(text)), encoding="utf-8")
    staged = []
    for path in facts.notebook_paths(facts.NOTEBOOKS_DIR):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = page_links(cell.source)
        describe_figures(notebook)
        student_first_badges(notebook, path.name, f"../{ASSETS_FOLDER}")
        collapse_solutions(notebook)
        nbformat.write(notebook, docs / "notebooks" / path.name)
        staged.append(docs / "notebooks" / path.name)
    return staged


def guide_links(markdown: str) -> str:
    """Turn links to the guides in docs/ into links to their pages (the site has no docs/ folder).

    A link to a guide that is not in docs/ is left as it is, so it points at GitHub.

    Example:
        >>> guide_links("[notes](docs/maintainers.md#releases) and [gone](docs/no_such_guide.md)")
        '[notes](maintainers.md#releases) and [gone](docs/no_such_guide.md)'
    """
    names = {path.name for path in guide_paths()}
    return re.sub(r"\]\(docs/([\w-]+\.md)([#)])",
                  lambda m: f"]({m[1]}{m[2]}" if m[1] in names else m[0], markdown)


def guide_paths() -> list[Path]:
    """Return the guides in docs/ (the instructors' guide, the maintainers' notes), each a page of the site."""
    return sorted((facts.CHECKOUT_ROOT / "docs").glob("*.md"))


def page_source_path(src_uri: str) -> str:
    """Return the repository path a page of the site is made from.

    Example:
        >>> page_source_path("index.md"), page_source_path("notebooks/06_the_training_loop.ipynb")
        ('README.md', 'notebooks/06_the_training_loop.ipynb')
    """
    if src_uri == "index.md":
        return "README.md"
    if src_uri == "CONTRIBUTING.md" or src_uri.startswith("notebooks/"):
        return src_uri
    return f"docs/{src_uri}"


def page_links_html(src_uri: str) -> str:
    """Return a page's own links: its notebook in both editions, edit it on GitHub, report a problem."""
    source = page_source_path(src_uri)
    links = []
    if src_uri.startswith("notebooks/"):
        name = Path(src_uri).name
        links += [f'<a href="../{DOWNLOADS_FOLDER}/{facts.STUDENT_FOLDER}/{name}" download>Download the notebook</a>',
                  f'<a href="../{DOWNLOADS_FOLDER}/notebooks/{name}" download>Download it with solutions</a>']
    title = html_text.escape(f"Problem on the page {source}", quote=True).replace(" ", "+")
    links += [f'<a href="{facts.REPOSITORY_URL}/edit/main/{source}">Edit this page on GitHub</a>',
              f'<a href="{facts.REPOSITORY_URL}/issues/new?title={title}">Report a problem</a>']
    return f'<p class="course-page-links">{" · ".join(links)}</p>'


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
        html = with_alt_text(html, Path(page.file.abs_src_path))
    return keyboard_scrollable(html) + page_links_html(page.file.src_uri)


def keyboard_scrollable(html: str) -> str:
    """Make each notebook block that may scroll sideways reachable from the keyboard (axe: scrollable-region-focusable).

    Code in Markdown (``<pre><code>``) wraps instead (the site's CSS), so only the
    notebook's own ``pre`` blocks (code cells and text outputs) get a tab stop.

    Example:
        >>> keyboard_scrollable('<pre><code class="language-bash">make</code></pre><pre>out</pre>')
        '<pre><code class="language-bash">make</code></pre><pre tabindex="0">out</pre>'
    """
    return re.sub(r'<pre(?![^>]*>\s*<code)(?![^>]*tabindex)', '<pre tabindex="0"', html)


SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog"'


def on_post_page(output: str, page, config) -> str:
    """mkdocs hook: give the theme's search dialog an accessible name (axe: aria-dialog-name)."""
    return output.replace(SEARCH_DIALOG, f'{SEARCH_DIALOG} aria-label="Search the course"')


def with_alt_text(html: str, notebook_path: Path) -> str:
    """Put each output image's alt text (from the staged notebook) in place of nbconvert's placeholder.

    nbconvert's lab template drops an output's ``alt`` metadata; the output images
    appear in the page in the notebook's order, so they are matched by position.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    alts = iter([output.metadata[mime]["alt"] for cell in notebook.cells for output in cell.get("outputs", [])
                 for mime in ("image/png", "image/jpeg") if mime in output.get("data", {})])

    def described(tag: re.Match) -> str:
        if 'src="data:image/' not in tag[0] or NBCONVERT_PLACEHOLDER_ALT not in tag[0]:
            return tag[0]
        return tag[0].replace(NBCONVERT_PLACEHOLDER_ALT, f'alt="{html_text.escape(next(alts, ""), quote=True)}"')

    return IMAGE_TAG.sub(described, html)


def on_page_context(context, page, config, nav):
    """mkdocs hook: the edit button opens the page's own source in the repository (the README for the home page)."""
    page.edit_url = f"{facts.REPOSITORY_URL}/edit/main/{page_source_path(page.file.src_uri)}"
    return context


def on_post_build(config) -> None:
    """mkdocs hook: put both editions of every notebook in the site, for download."""
    for folder, source in ((facts.NOTEBOOKS_DIR.name, facts.NOTEBOOKS_DIR), (facts.STUDENT_FOLDER, facts.STUDENT_DIR)):
        target = Path(config["site_dir"]) / DOWNLOADS_FOLDER / folder
        target.mkdir(parents=True, exist_ok=True)
        for path in facts.notebook_paths(source):
            shutil.copyfile(path, target / path.name)


def site_config(docs: Path, out: Path, notebooks: list[Path]) -> dict:
    """Return the mkdocs configuration: material theme (light and dark), offline search, one page per notebook.

    Nothing is loaded from the internet when a page is viewed: no web fonts, the
    search shim from the site itself, and the privacy plugin self-hosts anything
    external that is left (the build fails offline if there is, which the tests see).
    """
    palette = [
        {"media": "(prefers-color-scheme: light)", "scheme": "default", "primary": "indigo", "accent": "indigo",
         "toggle": {"icon": "material/weather-night", "name": "Switch to dark mode"}},
        {"media": "(prefers-color-scheme: dark)", "scheme": "slate", "primary": "indigo", "accent": "indigo",
         "toggle": {"icon": "material/weather-sunny", "name": "Switch to light mode"}},
    ]
    guides = [{guide.stem.replace("_", " ").capitalize(): guide.name} for guide in guide_paths()]
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
        "edit_uri": "edit/main/",
        "theme": {"name": "material", "font": False, "palette": palette,
                  "features": ["search.highlight", "content.code.copy", "navigation.footer", "content.action.edit"]},
        "extra": {"polyfills": [f"{ASSETS_FOLDER}/iframe-worker-shim.js"]},
        "plugins": [
            "search", "offline",
            {"privacy": {"cache_dir": str(docs.parent / "privacy-cache"), "log_level": "warn",
                         # the theme names mermaid for pages with diagrams; the course has none
                         "assets_exclude": ["unpkg.com/mermaid@*"]}},
            {"mkdocs-jupyter": {"include": ["*.ipynb"], "execute": False, "include_source": False,
                                "cache": False, "toc_depth": 2}},
        ],
        "markdown_extensions": ["tables", "toc"],
        "hooks": [__file__],
        "extra_css": [f"{ASSETS_FOLDER}/course.css"],
        "extra_javascript": [f"{ASSETS_FOLDER}/course.js"],
        "nav": [
            {"Home": "index.md"},
            {"Notebooks": [{notebook_title(path): f"notebooks/{path.name}"} for path in notebooks]},
            *guides,
            {"Contributing": "CONTRIBUTING.md"},
        ],
    }


def read_manifest(out: Path) -> list[str] | None:
    """Return the files a previous build wrote into ``out`` (relative paths), or None if it made no site there."""
    marker = out / SITE_MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return [name for name in files if safe_relative(name)]


def safe_relative(name: str) -> bool:
    """Say whether a manifest entry names a file inside the site (no absolute path, no ``..``).

    Example:
        >>> safe_relative("notebooks/06.html"), safe_relative("../notes.txt"), safe_relative("/etc/passwd")
        (True, False, False)
    """
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def check_site_folder(out: Path) -> list[str]:
    """Return the files of the site already in ``out`` (none for a new or empty folder); refuse anything else.

    Raises:
        SiteError: ``out`` is a file, a link, or a folder with files that no build of the site wrote.
    """
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SiteError(f"{out} is not a folder this command made (a file or a link). Choose another --out "
                        "folder, or move that one away.")
    if not out.exists() or not any(out.iterdir()):
        return []
    previous = read_manifest(out)
    if previous is None:
        raise SiteError(f"{out} exists and is not a site built by this command, so its files would be mixed "
                        "with the site's. Choose another --out folder, or move that one away.")
    return previous


def built_files(folder: Path) -> list[str]:
    """Return every file under ``folder`` as sorted relative POSIX paths."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def inside_real_folders(out: Path, name: str) -> bool:
    """Say whether ``out/name`` lies below ``out`` through real folders only (no planted link on the way)."""
    folder = out
    for part in Path(name).parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return False
    return True


def swap_in(built: Path, out: Path, previous: list[str]) -> list[str]:
    """Move the new site from ``built`` into ``out``, replacing only the files of the previous build.

    A file someone added to ``out`` after a build (a CNAME, notes) is kept; a file of
    the previous build that the new one no longer has is removed; a link planted in
    its place is removed as a link, never followed. Returns the files written.
    """
    files = built_files(built)
    if not out.exists():
        built.rename(out)
        return files
    for name in previous:
        path = out / name
        if name not in files and inside_real_folders(out, name) and (path.is_symlink() or path.is_file()):
            path.unlink()
    for name in files:
        if not inside_real_folders(out, name):
            raise SiteError(f"{out / name} lies below a link or a file where the site has a folder; move it "
                            "away and build again.")
        target = out / name
        if target.is_dir() and not target.is_symlink():
            raise SiteError(f"{target} is a folder where the site writes a file; move it away and build again.")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(built / name, target)
    for folder in sorted({(out / name).parent for name in previous}, key=lambda path: len(path.parts), reverse=True):
        if folder != out and folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()
    return files


def write_manifest(out: Path, files: list[str]) -> None:
    """Record the files this build wrote, atomically (an exclusively created temporary file, then a rename)."""
    descriptor, temporary = tempfile.mkstemp(dir=out, prefix=f"{SITE_MARKER}.", suffix=".tmp")
    with os.fdopen(descriptor, "w", encoding="utf-8") as manifest:
        json.dump({"built_by": "python -m helpers site", "files": files}, manifest, indent=0)
    os.replace(temporary, out / SITE_MARKER)


def build_site(out: Path) -> tuple[int, float]:
    """Build the site into ``out``; return (pages built, seconds taken).

    The site is built in a temporary folder beside ``out`` and swapped in, so a
    failed build leaves the previous site as it was.

    Example:
        >>> build_site(Path("site"))  # doctest: +SKIP
        (16, 9.8)
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    out = Path(os.path.abspath(out))
    previous = check_site_folder(out)
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-site-") as staging, \
            tempfile.TemporaryDirectory(prefix=f".{out.name}.building-", dir=out.parent) as building:
        docs = Path(staging) / "docs"
        notebooks = stage_sources(docs)
        built = Path(building) / "site"
        config_file = Path(staging) / "mkdocs.yml"
        config_file.write_text(yaml.safe_dump(site_config(docs, built, notebooks), sort_keys=False))
        build(load_config(str(config_file)))
        files = swap_in(built, out, previous)
    write_manifest(out, files)
    pages = len(notebooks) + 2 + len(guide_paths())
    return pages, time.perf_counter() - started
