"""Every path and dotted name the contributors' guides mention exists: a renamed module breaks this test, not a reader."""

import importlib
import re
from pathlib import Path

import pytest

from helpers.course import facts

ROOT = facts.CHECKOUT_ROOT
GUIDES = [ROOT / "CONTRIBUTING.md", ROOT / "docs" / "maintainers.md"]
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")
PATH_LIKE = re.compile(r"^\.?[\w.<>-]+(/[\w.<>*-]*)+$|^[\w.-]+\.(py|md|toml|txt|yml|yaml|ipynb|cfg)$")
PLACEHOLDERS = ((re.compile(r"NN_topic"), "[0-9][0-9]_*"), (re.compile(r"<[^>]+>"), "*"))
GENERATED = ("runs/", "site/", ".venv", "report.md", "report.html")
"""What the commands write, not what the repository holds."""


def mentioned(guide: Path) -> tuple[set[Path], set[str]]:
    """Return the repository paths (code spans from the root, links from the guide's folder) and the
    dotted ``helpers`` names a guide mentions."""
    text = guide.read_text(encoding="utf-8")
    paths, names = set(), set()
    spans = [(word, ROOT) for span in CODE.findall(text) for word in span.split()]
    for word, base in spans + [(link, guide.parent) for link in LINK.findall(text)]:
        name = re.match(r"^helpers\.[\w.]*\w", word)
        if name:
            names.add(name.group(0))
        elif PATH_LIKE.match(word) and "://" not in word and not word.startswith(GENERATED):
            paths.add(base / word)
    return paths, names


def exists(path: Path) -> bool:
    """Say whether a mentioned path (placeholders such as ``<topic>`` or ``NN_topic`` allowed) names real files."""
    if not path.resolve().is_relative_to(ROOT):
        return path.exists()
    pattern = path.resolve().relative_to(ROOT).as_posix()
    for placeholder, glob in PLACEHOLDERS:
        pattern = placeholder.sub(glob, pattern)
    return (ROOT / pattern).exists() or any(ROOT.glob(pattern))


def resolves(name: str) -> bool:
    """Say whether a dotted name is a module, or an attribute of one (``helpers.course.records.record``)."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


@pytest.mark.parametrize("guide", GUIDES, ids=[path.name for path in GUIDES])
def test_every_path_a_guide_mentions_exists(guide):
    paths, _ = mentioned(guide)
    assert len(paths) >= 5, paths  # the guide still names files: the pattern has not gone blind
    assert sorted(str(path.relative_to(ROOT)) for path in paths if not exists(path)) == []


@pytest.mark.parametrize("guide", GUIDES, ids=[path.name for path in GUIDES])
def test_every_dotted_name_a_guide_mentions_exists(guide):
    _, names = mentioned(guide)
    assert sorted(name for name in names if not resolves(name)) == []


def test_the_check_sees_a_path_or_a_name_that_is_gone(tmp_path):
    guide = tmp_path / "GUIDE.md"
    guide.write_text("Edit `helpers/course.py`, then `helpers.hygiene.check` and `helpers.course.records.nothing`; "
                     "see [notes](docs/no_such_guide.md) and `helpers/<topic>.py`.")
    paths, names = mentioned(guide)
    assert {path for path in paths if not exists(path)} == {ROOT / "helpers/course.py", tmp_path / "docs/no_such_guide.md"}
    assert {name for name in names if not resolves(name)} == {"helpers.hygiene.check",
                                                             "helpers.course.records.nothing"}
