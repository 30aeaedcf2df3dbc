"""The student edition: no solution survives, every notebook still runs to the end, and the committed
edition in student/ is fresh, with badges that open its own files.

The student edition runs in the same kernel as the lesson's smoke run: the cells
they share run once, then the student edition's own cells (see helpers.tools.smoke_runs).
"""

import json
import re

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.executor import cell_with_tag
from helpers.tools.student_edition import answer_names, stub_source, student_notebook, write_student_edition

NOTEBOOKS = facts.notebook_paths()
NAMES = [path.name for path in NOTEBOOKS]
REGENERATE = f"python -m helpers student-edition --out {facts.STUDENT_FOLDER}"


def test_answer_names_and_stub():
    assert answer_names("x = torch.tensor(2.0)\nanswer_gradient = x.grad") == ["answer_gradient"]
    assert answer_names("model = nn.Linear(2, 1)") == ["model"]
    assert stub_source("answer_a = 1\nanswer_b: int = 2").endswith("answer_a = None\nanswer_b = None")


def solution_lines(path):
    """Yield the lines that only the solution cells have (not lines the lesson shows anyway)."""
    notebook = nbformat.read(path, as_version=4)
    lesson = "\n".join(c.source for c in notebook.cells if "solution" not in c.metadata.get("tags", []))
    for cell in notebook.cells:
        if "solution" in cell.metadata.get("tags", []):
            for line in cell.source.splitlines():
                line = line.strip()
                if len(line) > 12 and not line.startswith("#") and line not in lesson:
                    yield line


def test_no_solution_text_survives(tmp_path):
    written = write_student_edition(NOTEBOOKS, tmp_path / "notebooks")
    for original, student in zip(NOTEBOOKS, written):
        text = json.dumps(nbformat.read(student, as_version=4))
        leaked = [line for line in solution_lines(original) if json.dumps(line)[1:-1] in text]
        assert not leaked, f"{student.name} still shows solution lines: {leaked}"
        outputs = json.dumps([cell.get("outputs", []) for cell in nbformat.read(student, as_version=4).cells])
        assert "✅" not in outputs, f"{student.name} still shows a passed check"


@pytest.mark.parametrize("name", NAMES, ids=[n[:2] for n in NAMES])
def test_student_edition_runs_to_the_end_with_hints(student_run, name):
    run = student_run(name)
    assert run.passed, f"student edition of {name} failed\n{run.failure_text()}"
    executed = nbformat.read(run.output, as_version=4)
    stubs = [cell for cell in executed.cells if "exercise" in cell.metadata.get("tags", [])]
    assert stubs and all(cell.get("execution_count") for cell in stubs), f"{name}: its stubs did not run"
    verdicts = [value for key, value in run.records.items() if key.startswith("exercise:")]
    assert len(verdicts) >= 3 and not any(verdicts), f"{name}: unanswered checks must not pass"


def test_the_committed_student_edition_is_fresh():
    committed = sorted(path.name for path in facts.STUDENT_DIR.iterdir())
    assert committed == [path.name for path in NOTEBOOKS], f"student/ should hold exactly the notebooks; run {REGENERATE}"
    for path in NOTEBOOKS:
        expected = nbformat.writes(student_notebook(nbformat.read(path, as_version=4), path.name))
        found = (facts.STUDENT_DIR / path.name).read_text(encoding="utf-8").rstrip("\n")
        assert found == expected.rstrip("\n"), f"student/{path.name} is stale: run {REGENERATE}"


def badge_links(markdown: str) -> list[str]:
    """Return where the Colab and Kaggle badges in ``markdown`` lead (not the badge pictures)."""
    return [url for url in re.findall(r"\]\((https://[^)\s]+)\)", markdown) if not url.endswith(".svg")]


def test_each_student_notebook_has_badges_that_open_itself():
    for path in NOTEBOOKS:
        student = nbformat.read(facts.STUDENT_DIR / path.name, as_version=4)
        line = cell_with_tag(student, "badges").source.rstrip().split("\n")[-1]
        targets = badge_links(line)
        assert len(targets) == 2, line
        assert all(url.endswith(f"/blob/{facts.PINNED_REF}/{facts.STUDENT_FOLDER}/{path.name}") for url in targets), line
        assert (facts.CHECKOUT_ROOT / facts.STUDENT_FOLDER / path.name).is_file()


def test_each_notebook_offers_its_own_student_edition():
    for path in NOTEBOOKS:
        line = cell_with_tag(nbformat.read(path, as_version=4), "badges").source.rstrip().split("\n")[-1]
        targets = badge_links(line)
        assert [url.rsplit(f"/blob/{facts.PINNED_REF}/", 1)[1] for url in targets] == [
            f"notebooks/{path.name}", f"notebooks/{path.name}",
            f"{facts.STUDENT_FOLDER}/{path.name}", f"{facts.STUDENT_FOLDER}/{path.name}"], line


def test_the_readme_has_a_student_badge_for_every_notebook():
    readme = (facts.CHECKOUT_ROOT / "README.md").read_text(encoding="utf-8")
    student_targets = [url for url in badge_links(readme) if f"/{facts.STUDENT_FOLDER}/" in url]
    for path in NOTEBOOKS:
        own = [url for url in student_targets if url.endswith(f"/{facts.STUDENT_FOLDER}/{path.name}")]
        assert len(own) == 2, f"README: the student edition of {path.name} needs its Colab and Kaggle badges"
    for url in student_targets:
        assert (facts.CHECKOUT_ROOT / url.rsplit(f"/blob/{facts.PINNED_REF}/", 1)[1]).is_file(), url
