"""The site's notebook pages link to each other's pages: mkdocs-jupyter leaves a link to a sibling ``.ipynb`` as it is.

Measured with mkdocs 1.6.1 and mkdocs-jupyter 0.26.3: built without ``page_links``, a notebook's
``[devices](07_cuda_and_devices.ipynb#choose-the-device-once)`` stays a link to an ``.ipynb`` file the site
does not have (strict mode does not flag it), so the site builder rewrites such links before the build.
"""

import nbformat

from helpers.course import facts
from helpers.tools import site

LINKS = ("[devices](07_cuda_and_devices.ipynb#choose-the-device-once), [checkpoints](../notebooks/08_checkpoints.ipynb) "
         "and [prediction](./09_prediction.ipynb)")


def test_staged_notebooks_link_to_the_pages_of_their_siblings(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# Tiny\n\nSee {LINKS}.")]),
                   notebooks / "06_tiny.ipynb")
    monkeypatch.setattr(facts, "NOTEBOOKS_DIR", notebooks)
    staged = site.stage_sources(tmp_path / "docs")
    text = nbformat.read(staged[0], as_version=4).cells[0].source
    assert ("[devices](07_cuda_and_devices.html#choose-the-device-once), [checkpoints](08_checkpoints.html) and "
            "[prediction](09_prediction.html)") in text
    assert ".ipynb" not in text
