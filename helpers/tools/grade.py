"""Grade a class's notebooks: ``python -m helpers grade SUBMISSIONS --out DIR``.

Only a student's answer cells (tagged ``exercise``) are taken from a
submission. They run inside the instructor's own copy of the student edition,
made afresh from the course's notebooks, so an edited lesson or check cell
changes nothing. Each check cell is replaced by a call that judges the answer
with the check captured before any student code ran
(:mod:`helpers.tools.grading_kernel`), and the grader believes only verdicts
signed with a key the kernel was handed once: printed text, displayed records
and outputs of the student's own cells count for nothing. Answer cells that
reach for the course's machinery (the checks, the grader, ``gc``, ``ctypes``,
code objects, the built-ins) are flagged and score 0 without being trusted.

Each submission runs in its own sandboxed kernel (:mod:`helpers.tools.sandbox`).
Grades are kept per submission in ``DIR/.grades/`` as soon as each finishes, so
a second run regrades only a submission whose file, or whose notebook in the
course, changed.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers.course import facts
from helpers.tools.grading_kernel import GRADE_MIME_TYPE, KEY_FILE_NAME, signature
from helpers.tools.sandbox import Execution, Limits, bubblewrap, execute_untrusted, sandbox_description
from helpers.tools.student_edition import STUB_HEADER, answer_names, student_notebook

CHECKS_PACKAGE = "helpers.course.checks"
POINTS_KEY = "pytorch_course_points"
"""Course-notebook metadata giving an exercise other points than 1: ``{"product_shape": 2}``."""
NOTEBOOK_KEY = "pytorch_course_notebook"
"""Notebook metadata naming the course notebook a file is (the student edition may carry it)."""
GRADES_MARKER = ".course-grades"
"""The file that marks a folder as one ``grade`` wrote: only such a folder is written into again."""
GRADER_VERSION = "1"
SUSPICIOUS_NAMES = frozenset({
    "check", "checks", "helpers.course", "helpers.tools", "grading_kernel", "gc", "ctypes", "inspect", "importlib",
    "builtins", "__builtins__", "__import__", "exec", "eval", "compile", "globals", "vars", "locals", "setattr",
    "delattr", "get_ipython", "IPython", "display", "record", "sys", "signal", "threading", "_thread",
    "__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__", "__dict__", "__subclasses__",
    "__class__", "__mro__", "__bases__", "__wrapped__", "modules", "settrace", "setprofile", "cell_contents",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__hash__", "__instancecheck__",
    "__torch_function__", "__torch_dispatch__", "__array_ufunc__", "__array_function__", "__getattribute__",
    "subprocess", "os.system", "socket", "_exit", "kill",
})
"""What an answer cell never needs: the checks and grader, introspection, comparisons that lie, processes."""


@dataclass(frozen=True)
class Exercise:
    """One judged exercise of a course notebook."""

    check: str
    """The check's registry name, ``module.name``."""
    column: str
    """Its gradebook column, ``NN/name``."""
    points: float


@dataclass
class CourseNotebook:
    """The instructor's copy of one notebook, ready to take a student's answers."""

    name: str
    template: nbformat.NotebookNode
    exercises: list[Exercise]
    version: str


@dataclass(frozen=True)
class Submission:
    """One student's file for one course notebook."""

    student: str
    notebook: str
    path: Path


@dataclass
class GradeTask:
    """Everything a worker needs to grade one submission (plain values, so Dask can send it)."""

    submission: Submission
    course: CourseNotebook
    limits: Limits
    environment: dict[str, str]
    hidden: list[Path]
    executed_path: Path
    use_bubblewrap: bool


@dataclass
class NotebookGrade:
    """The grade of one submission: a row per exercise, flags, and how the run went."""

    student: str
    notebook: str
    rows: list[dict[str, Any]]
    flags: list[str] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0
    cells: list[dict[str, Any]] = field(default_factory=list)
    sandbox: str = ""
    key: str = ""


def notebook_number(name: str) -> str:
    """Return a course notebook's number: ``"01"`` for ``01_tensors_and_autograd.ipynb``.

    Example:
        >>> notebook_number("01_tensors_and_autograd.ipynb")
        '01'
    """
    return name[:2]


def check_aliases(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Return the names a notebook binds to check modules: ``{"check": "tensors"}``.

    Example:
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        ...     "from helpers.course.checks import tensors as check")])
        >>> check_aliases(nb)
        {'check': 'tensors'}
    """
    aliases = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == CHECKS_PACKAGE:
                aliases.update({alias.asname or alias.name: alias.name for alias in node.names})
    return aliases


def judged_source(source: str, aliases: dict[str, str]) -> tuple[str, list[str]]:
    """Rewrite a check cell: each ``check.name(args)`` becomes a call to the grader's judge; return it and the checks.

    Example:
        >>> text, checks = judged_source("check.centred_columns(answer_centred, marks)", {"check": "tensors"})
        >>> checks
        ['tensors.centred_columns']
        >>> print(text.splitlines()[-1])
        _course_grader.judge('tensors.centred_columns', lambda: ((answer_centred, marks), {}))
    """
    tree = ast.parse(source)
    checks = []
    body = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        target = call.func if isinstance(call, ast.Call) else None
        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id in aliases):
            name = f"{aliases[target.value.id]}.{target.attr}"
            checks.append(name)
            arguments = ast.Tuple([ast.Tuple(call.args, ast.Load()), ast.Dict(
                [ast.Constant(k.arg) for k in call.keywords], [k.value for k in call.keywords])], ast.Load())
            statement = ast.Expr(ast.Call(ast.Attribute(ast.Name("_course_grader", ast.Load()), "judge", ast.Load()),
                                          [ast.Constant(name), ast.Lambda(ast.arguments([], [], None, [], [], None, []),
                                                                          arguments)], []))
        body.append(statement)
    if not checks:
        return source, []
    imports = "import helpers.tools.grading_kernel as _course_grader\n"
    return imports + ast.unparse(ast.fix_missing_locations(ast.Module(body, []))), checks


def is_answer_cell(cell: nbformat.NotebookNode) -> bool:
    """Whether a cell holds an answer: tagged ``exercise`` (the student edition) or ``solution`` (the key)."""
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and ("exercise" in tags or "solution" in tags)


def course_notebook(path: Path) -> CourseNotebook:
    """Return the instructor's student edition of the course notebook at ``path``, with its exercises."""
    source = nbformat.read(path, as_version=4)
    template = student_notebook(source, path.name)
    template.cells = [cell for cell in template.cells if cell.cell_type == "code"]
    aliases = check_aliases(template)
    points = source.metadata.get(POINTS_KEY, {})
    exercises = []
    for cell in template.cells:
        if is_answer_cell(cell):
            continue
        cell.source, checks = judged_source(cell.source, aliases)
        for check in checks:
            short = check.split(".", 1)[1]
            exercises.append(Exercise(check, f"{notebook_number(path.name)}/{short}",
                                      float(points.get(check, points.get(short, 1)))))
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for cell in template.cells:
        digest.update(cell.source.encode("utf-8") + b"\0")
    for module in sorted((facts.PACKAGE_ROOT / "course").rglob("*.py")) + sorted(
            (facts.PACKAGE_ROOT / "tools").glob("grad*.py")) + [facts.PACKAGE_ROOT / "tools" / "sandbox.py"]:
        digest.update(module.read_bytes())
    digest.update(json.dumps([asdict(exercise) for exercise in exercises]).encode())
    return CourseNotebook(path.name, template, exercises, digest.hexdigest())


def answer_sources(submitted: nbformat.NotebookNode, course: CourseNotebook) -> list[str]:
    """Return the source for each answer cell of ``course``, taken from the student's notebook.

    A student's answer cell is matched by the answer variables it sets, else by
    its place among the answer cells when there are as many; an answer cell
    that cannot be matched keeps the stub (``answer = None``), which scores 0.
    """
    stubs = [cell.source for cell in course.template.cells if is_answer_cell(cell)]
    given = [cell.source for cell in submitted.cells if is_answer_cell(cell)]
    if not given:  # tags lost (some editors drop them): cells that still start like the stub
        given = [cell.source for cell in submitted.cells
                 if cell.cell_type == "code" and cell.source.lstrip().startswith(STUB_HEADER)]
    chosen: list[str | None] = [None] * len(stubs)
    unused = list(range(len(given)))
    for place, stub in enumerate(stubs):
        wanted = set(answer_names(stub))
        for index in unused:
            try:
                names = set(answer_names(given[index]))
            except SyntaxError:
                continue
            if names & wanted:
                chosen[place] = given[index]
                unused.remove(index)
                break
    if len(given) == len(stubs):
        chosen = [source if source is not None else given[place] if place in unused else None
                  for place, source in enumerate(chosen)]
    return [source if source is not None else stub for source, stub in zip(chosen, stubs)]


def suspicious_parts(source: str) -> list[str]:
    """Return what an answer cell touches that no answer needs (the checks, introspection...), sorted.

    Example:
        >>> suspicious_parts("import gc\\nanswer = [o for o in gc.get_objects()]")
        ['gc']
        >>> suspicious_parts("answer_shape = (3,)")
        []
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # it cannot run, so it cannot tamper: the check says it is wrong
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom)
                                                               and node.module else [])
            names = [part for module in modules for part in (module, module.split(".")[0],
                                                               ".".join(module.split(".")[:2]))]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [word for word in SUSPICIOUS_NAMES if len(word) > 4 and word in node.value]
        found.update(name for name in names if name in SUSPICIOUS_NAMES)
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.FunctionDef, ast.ClassDef)):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", node)]
            for target in targets:
                name = target.id if isinstance(target, ast.Name) else getattr(target, "name", None)
                if isinstance(name, str) and hasattr(builtins, name):
                    found.add(f"redefines {name}")
    return sorted(found)


def graded_notebook(course: CourseNotebook, answers: list[str], key_folder: str) -> nbformat.NotebookNode:
    """Return the notebook to execute: the grader's guard, then the course's cells with the student's answers."""
    notebook = nbformat.from_dict(json.loads(json.dumps(course.template)))
    guard = nbformat.v4.new_code_cell("import helpers.tools.grading_kernel as _course_grader\n"
                                      f"_course_grader.start_guard({key_folder!r})")
    cells = [guard]
    answers_left = list(answers)
    for cell in notebook.cells:
        if is_answer_cell(cell):
            if len(answers_left) == len(answers):
                cells.append(nbformat.v4.new_code_cell("_course_grader.seal()"))
            cell.source = answers_left.pop(0)
            cell.metadata["tags"] = ["exercise"]
        cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    notebook.cells = cells
    return notebook


def signed_verdicts(executed: nbformat.NotebookNode, key: bytes) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Return the first correctly signed verdict per check, and flags for any forged or repeated one."""
    verdicts: dict[str, dict[str, Any]] = {}
    flags = []
    for index, cell in enumerate(executed.cells):
        grader_cell = "_course_grader.judge(" in cell.source and not is_answer_cell(cell)
        for output in cell.get("outputs", []):
            item = output.get("data", {}).get(GRADE_MIME_TYPE)
            if item is None:
                continue
            payload_text, given = (item.get("payload"), item.get("signature")) if isinstance(item, dict) else (None, None)
            if not (grader_cell and isinstance(payload_text, str) and isinstance(given, str)
                    and secrets.compare_digest(signature(key, payload_text), given)):
                flags.append(f"a forged verdict was displayed (cell {index}): graded 0 where it claims a pass.")
                continue
            payload = json.loads(payload_text)
            if payload["check"] in verdicts:
                flags.append(f"{payload['check']} was judged twice: the first verdict counts.")
                continue
            verdicts[payload["check"]] = payload
    return verdicts, sorted(set(flags))


def rows_for(task: GradeTask, verdicts: dict[str, dict[str, Any]], suspicious: dict[str, list[str]],
             execution: Execution) -> list[dict[str, Any]]:
    """One gradebook row per exercise of the notebook: points, whether it passed, the hint and its flag."""
    rows = []
    for exercise in task.course.exercises:
        verdict = verdicts.get(exercise.check)
        flag = ""
        if exercise.check in suspicious:
            flag = f"answer cell uses {', '.join(suspicious[exercise.check])}: graded 0, review it by hand"
            passed, hint = False, "your answer cell uses parts of Python no answer needs; see your instructor."
        elif verdict is None:
            passed = False
            hint = (f"not graded: {execution.stopped}." if execution.stopped else
                    "not graded: the grader's check did not run (an earlier cell may have stopped the kernel).")
        else:
            passed, hint = bool(verdict["passed"]), str(verdict["hint"])
            if verdict.get("tampered"):
                flag = f"tampering: {', '.join(verdict['tampered'][:3])} changed; graded 0"
        rows.append({"student": task.submission.student, "notebook": task.course.name, "exercise": exercise.column,
                     "check": exercise.check, "points": exercise.points if passed and not flag else 0.0,
                     "possible": exercise.points, "passed": passed and not flag, "hint": "" if passed else hint,
                     "flag": flag})
    return rows


def exercises_of_answers(course: CourseNotebook) -> list[list[str]]:
    """For each answer cell, the checks judged after it (up to the next answer cell)."""
    groups: list[list[str]] = []
    for cell in course.template.cells:
        if is_answer_cell(cell):
            groups.append([])
        elif groups:
            groups[-1] += re.findall(r"_course_grader\.judge\('([^']+)'", cell.source)
    return groups


def grade_submission(task: GradeTask) -> NotebookGrade:
    """Grade one submission in its own sandboxed kernel; never raises for what the submission does."""
    import time

    started = time.perf_counter()
    submitted = nbformat.read(task.submission.path, as_version=4)
    answers = answer_sources(submitted, task.course)
    suspicious: dict[str, list[str]] = {}
    for source, checks in zip(answers, exercises_of_answers(task.course)):
        parts = suspicious_parts(source)
        suspicious.update({check: parts for check in checks if parts})
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        key = secrets.token_bytes(32)
        (scratch / "sockets").mkdir()
        (scratch / "sockets" / KEY_FILE_NAME).write_bytes(key)
        notebook = graded_notebook(task.course, answers, str(scratch / "sockets"))
        execution = execute_untrusted(notebook, scratch, task.limits, task.environment, task.hidden,
                                      keep_mime_types=(GRADE_MIME_TYPE,), use_bubblewrap=task.use_bubblewrap)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdicts, flags = signed_verdicts(execution.notebook, key)
    if execution.output_dropped:
        flags.append(f"printed more than {task.limits.output_bytes // 2**20} MiB: the rest was dropped.")
    write_atomically(task.executed_path, nbformat.writes(execution.notebook))
    rows = rows_for(task, verdicts, suspicious, execution)
    if flags and any("forged" in flag for flag in flags):
        for row in rows:
            row.update(points=0.0, passed=False, flag=row["flag"] or "a forged verdict was displayed; graded 0")
    return NotebookGrade(task.submission.student, task.course.name, rows, flags, execution.stopped,
                         round(time.perf_counter() - started, 1), [asdict(cell) for cell in execution.cells],
                         execution.sandbox)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through an exclusively created temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)

