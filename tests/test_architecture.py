"""The three layers of ``helpers`` and the one direction their imports point.

* the learner's library, ``helpers/<topic>.py``: what the notebooks taught;
* the course runtime, ``helpers/course/``: presets, records, checks, folders;
* the instructor and maintainer tools, ``helpers/tools/``: command line, runner, report.

Tools may import the course and the library, the course may import the library,
and the library imports neither: a learner reading ``helpers/data.py`` finds the
code they wrote in notebook 03, not the course's plumbing.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "helpers"
LAYERS = ("library", "course", "tools")


def layer_of(module: str) -> str:
    """Return the layer of a dotted module name inside ``helpers``.

    >>> layer_of("helpers.course.checks.tensors"), layer_of("helpers.data")
    ('course', 'library')
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("course", "tools") else "library"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def helpers_imports(path: Path) -> list[str]:
    """Return every ``helpers...`` module that ``path`` imports, at any depth of the file."""
    imported = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in imported if name == "helpers" or name.startswith("helpers.")]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_the_layers(path):
    own = LAYERS.index(layer_of(module_name(path)))
    upward = [name for name in helpers_imports(path) if LAYERS.index(layer_of(name)) > own]
    assert not upward, f"{module_name(path)} imports {upward}, a layer above its own"


def test_every_layer_is_there():
    assert {layer_of(module_name(p)) for p in MODULES} == set(LAYERS)
    assert (PACKAGE / "course" / "checks" / "__init__.py").is_file()
