"""The student edition: no solution survives, and every notebook still runs to the end.

The student edition runs in the same kernel as the lesson's smoke run: the cells
they share run once, then the student edition's own cells (see helpers.tools.smoke_runs).
"""

import json

import nbformat
import pytest

from helpers.course import facts
from helpers.tools.student_edition import answer_names, stub_source, write_student_edition

NOTEBOOKS = facts.notebook_paths()
NAMES = [path.name for path in NOTEBOOKS]


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
        assert "correct!" not in text, f"{student.name} still shows a passed check"


@pytest.mark.parametrize("name", NAMES, ids=[n[:2] for n in NAMES])
def test_student_edition_runs_to_the_end_with_hints(student_run, name):
    run = student_run(name)
    assert run.passed, f"student edition of {name} failed\n{run.failure_text()}"
    executed = nbformat.read(run.output, as_version=4)
    stubs = [cell for cell in executed.cells if "exercise" in cell.metadata.get("tags", [])]
    assert stubs and all(cell.get("execution_count") for cell in stubs), f"{name}: its stubs did not run"
    verdicts = [value for key, value in run.records.items() if key.startswith("exercise:")]
    assert len(verdicts) >= 3 and not any(verdicts), f"{name}: unanswered checks must not pass"
