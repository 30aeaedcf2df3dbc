"""The student edition: every notebook with its reference solutions taken out.

``python -m helpers student-edition --out student`` writes a copy of each
notebook in which every cell tagged ``solution`` becomes a stub (its answer
variables set to ``None``) and the outputs that would give the answers away,
those of the solution cells and of the check cells after them, are removed.
The checks stay: run unanswered, they print a hint, so the notebook still
runs to the end. Its badges open the student edition itself, which the
repository keeps in ``student/`` (regenerated whenever the notebooks are).
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat

from helpers.course import facts
from helpers.safe_files import write_atomically
from helpers.tools.executor import STAMP_KEY, cell_statements, cell_with_tag

STUB_HEADER = "# Your answer here: replace None, then run the check below."
STUDENT_EDITION_KEY = "pytorch_course_student_edition"
"""Notebook metadata marking a file this module wrote: only such files are ever overwritten."""
NOTEBOOK_KEY = "pytorch_course_notebook"
"""Notebook metadata naming the course notebook a file is, which the grader recognises a submission by."""


class StudentEditionError(ValueError):
    """An output folder the student edition refuses to write into; the message says why."""


def answer_names(solution_source: str, where: str = "a solution cell") -> list[str]:
    """Return the variables a solution cell defines for its check: ``answer_*`` ones, else the last assigned.

    Example:
        >>> answer_names("x = torch.tensor(2.0)\\nanswer_gradient = x.grad")
        ['answer_gradient']
    """
    assigned: list[str] = []
    for statement in cell_statements(solution_source, where):
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, (ast.AnnAssign, ast.AugAssign)) else [])
        assigned += [target.id for target in targets if isinstance(target, ast.Name)]
    answers = [name for name in assigned if name.startswith("answer")]
    return list(dict.fromkeys(answers)) or assigned[-1:]


def stub_source(solution_source: str, where: str = "a solution cell") -> str:
    """Return the stub that replaces a solution cell."""
    return "\n".join([STUB_HEADER] + [f"{name} = None" for name in answer_names(solution_source, where)])


def student_notebook(notebook: nbformat.NotebookNode, notebook_name: str) -> nbformat.NotebookNode:
    """Return a copy of ``notebook`` with solutions stubbed, give-away outputs removed and its own badges.

    The copy's metadata names the course notebook it is (:data:`NOTEBOOK_KEY`), so
    that ``grade`` recognises a submission whatever its file name and badges.
    """
    student = copy.deepcopy(notebook)
    student.metadata.pop(STAMP_KEY, None)
    badges = cell_with_tag(student, "badges")
    if badges is not None:
        lines = badges.source.rstrip("\n").split("\n")
        lines[-1] = facts.student_badges_markdown(notebook_name)
        badges.source = "\n".join(lines)
    student.metadata[STUDENT_EDITION_KEY] = True
    student.metadata[NOTEBOOK_KEY] = notebook_name
    clearing = False
    for number, cell in enumerate(student.cells, start=1):
        if cell.cell_type == "markdown":
            clearing = False
            continue
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            cell.source = stub_source(cell.source, f"Cell {number} of {notebook_name} (a solution)")
            cell.metadata["tags"] = [tag if tag != "solution" else "exercise" for tag in tags]
            clearing = True
        if clearing:  # the solution cell and the check cells that follow it
            cell.outputs = []
            cell.execution_count = None
    return student


def _is_student_edition(path: Path) -> bool:
    try:
        return bool(nbformat.read(path, as_version=4).metadata.get(STUDENT_EDITION_KEY))
    except Exception:  # not a notebook at all: certainly not one this module wrote
        return False


def is_stub(source: str) -> bool:
    """Whether an exercise cell still holds the stub this module wrote (no answer typed into it).

    Example:
        >>> is_stub(stub_source("answer_loss = loss")), is_stub(stub_source("answer_loss = loss") + "\\n1 + 1")
        (True, False)
    """
    lines = [line.strip() for line in source.strip().splitlines()]
    return bool(lines) and lines[0] == STUB_HEADER and all(
        line.endswith(" = None") and line[:-len(" = None")].isidentifier() for line in lines[1:])


def answered_exercises(path: Path) -> int:
    """Return how many exercise cells of a student edition at ``path`` hold a learner's answer, not the stub."""
    notebook = nbformat.read(path, as_version=4)
    return sum(1 for cell in notebook.cells
               if "exercise" in cell.metadata.get("tags", []) and not is_stub(cell.source))


def check_output_folder(notebooks: list[Path], out_dir: Path) -> None:
    """Raise :class:`StudentEditionError` if writing into ``out_dir`` could overwrite a notebook it did not write.

    Refused: a folder holding any of the source ``notebooks`` (the course's own,
    with their solutions), and a folder holding any notebook that is not a
    previous student edition.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise StudentEditionError(f"{out_dir} is a file: give a folder for the student notebooks.")
    if not out_dir.is_dir():
        return
    sources = {path.resolve().parent for path in notebooks}
    if out_dir.resolve() in sources:
        raise StudentEditionError(f"{out_dir} holds the notebooks the student edition is made from: writing "
                                  "there would replace the solutions with stubs. Choose another folder, e.g. "
                                  "--out student.")
    foreign = [path.name for path in sorted(out_dir.glob("*.ipynb")) if not _is_student_edition(path)]
    answered = {path.name: answered_exercises(path) for path in sorted(out_dir.glob("*.ipynb"))
                if path.name not in foreign and path.name in {notebook.name for notebook in notebooks}}
    answered = {name: count for name, count in answered.items() if count}
    if answered:
        shown = ", ".join(f"{name} ({count} answered exercise{'s' if count > 1 else ''})"
                          for name, count in list(answered.items())[:3])
        raise StudentEditionError(f"{out_dir} holds student notebooks with answers in them: {shown}. Writing the "
                                  "edition there would replace those answers with stubs. Choose another folder "
                                  "for the new edition, or move your notebooks away first.")
    if foreign:
        raise StudentEditionError(f"{out_dir} already holds notebooks the student edition did not write "
                                  f"({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}). It writes only "
                                  "into a new folder or one holding its own earlier output, so that no notebook of "
                                  "yours is overwritten or mixed up with stubs. Choose a new or empty folder, e.g. "
                                  "--out student.")


def write_student_edition(notebooks: list[Path], out_dir: Path) -> list[Path]:
    """Write the student edition of each notebook into ``out_dir``; return the new paths.

    Every edition is made before the first is written, so a notebook that cannot
    be made (a cell that is not Python) leaves the folder as it was; each file is
    then replaced atomically.

    Raises:
        StudentEditionError: two notebooks of one name, or ``out_dir`` holds the source notebooks or
            notebooks it did not write.
    """
    by_name: dict[str, list[Path]] = {}
    for path in dict.fromkeys(Path(path).resolve() for path in notebooks):
        by_name.setdefault(path.name.casefold(), []).append(path)
    clashing = [paths for paths in by_name.values() if len(paths) > 1]
    if clashing:
        raise StudentEditionError(f"{' and '.join(str(p) for p in clashing[0])} have the same name: their student "
                                  "editions would overwrite each other in one folder. Make them one at a time, "
                                  "each with its own --out.")
    check_output_folder(notebooks, out_dir)
    editions = {out_dir / paths[0].name: student_notebook(nbformat.read(paths[0], as_version=4), paths[0].name)
                for paths in by_name.values()}
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, edition in editions.items():
        write_atomically(target, nbformat.writes(edition) + "\n")  # as nbformat.write ends it; old file or new
    return list(editions)
