"""Grade a class's notebooks: ``python -m helpers grade SUBMISSIONS --out DIR``.

Only a student's answer cells (tagged ``exercise``) and the code cells the
student added are taken from a submission, as nbgrader does when it restores
its protected cells and keeps the rest. They run inside the instructor's own
copy of the student edition, made afresh from the course's notebooks, so an
edited or deleted lesson or check cell changes nothing; each added cell runs
just before the answer cell that follows it, under an answer cell's time
limit and the same tamper checks. Each check cell is replaced by a call that
judges the answer with the check captured before any student code ran
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
import re
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from helpers.course import facts
from helpers.safe_files import write_atomically
from helpers.tools.gradebook import NotebookGrade, feedback_name, file_name_for
from helpers.tools.grading_kernel import GRADE_MIME_TYPE, IGNORED_BUILTINS, KEY_FILE_NAME, signature
from helpers.tools.manifest import ForeignFileError, OutputFolder, sha256_of
from helpers.tools.sandbox import Execution, Limits, bubblewrap, execute_untrusted, sandbox_description
from helpers.tools.student_edition import NOTEBOOK_KEY, STUB_HEADER, answer_names, is_stub, student_notebook

CHECKS_PACKAGE = "helpers.course.checks"
POINTS_KEY = "pytorch_course_points"
"""Course-notebook metadata giving an exercise other points than 1: ``{"product_shape": 2}``."""
DEFAULT_LIMITS = Limits()
"""What a graded notebook may use unless the instructor says otherwise (``--timeout``, ``--memory``)."""
GRADER_VERSION = "2"
"""Part of every kept grade's key: a new version regrades everything (2: added cells are carried)."""
ADDED_TAG = "added"
"""The tag a student's added cell carries in the graded notebook (beside ``exercise``, for its time limit)."""
MAX_HINT_CHARACTERS = 400
"""A hint longer than this is cut: a check that quotes the answer must not carry a copied file into feedback."""
SUSPICIOUS_NAMES = frozenset({
    "check", "checks", "helpers.course", "helpers.tools", "grading_kernel", "gc", "ctypes", "inspect", "importlib",
    "builtins", "__builtins__", "__import__", "exec", "eval", "compile", "globals", "vars", "locals", "setattr",
    "delattr", "get_ipython", "IPython", "display", "record", "sys", "signal", "threading", "_thread",
    "__code__", "__globals__", "__closure__", "__defaults__", "__kwdefaults__", "__dict__", "__subclasses__",
    "__class__", "__mro__", "__bases__", "__wrapped__", "modules", "settrace", "setprofile", "cell_contents",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__hash__", "__instancecheck__",
    "__torch_function__", "__torch_dispatch__", "__array_ufunc__", "__array_function__", "__getattribute__",
    "subprocess", "os.system", "socket", "_exit", "kill", "_course_grader", "_state", "seal", "start_guard",
})
"""What an answer cell never needs: the checks and grader, introspection, comparisons that lie, processes."""
SUSPICIOUS_TEXT = ("_course_grader", "helpers.course", "helpers/course", "checks", "grading_kernel", ".ipynb",
                   "notebooks", "solution", "__builtins__", "__code__", "__globals__", "__closure__", "sys.modules",
                   "get_ipython")
"""Text no answer holds: the names above written as strings, and the way to the course's solutions."""
SUSPICIOUS_ATTRIBUTES = frozenset({name for name in SUSPICIOUS_NAMES if name.startswith("_")} | {
    "settrace", "setprofile", "cell_contents", "get_ipython", "checks", "grading_kernel", "record", "seal",
    "start_guard", "system"})
"""The names above that an answer never reads as an attribute. The rest are everyday attributes of models and
modules (``model.eval()``, ``model.modules()``, ``torch.compile``, ``torch.signal``): only their bare names are."""
HARMLESS_MAGICS = frozenset({"matplotlib"})
"""IPython magics an answer may use that run no code of the student's (``%matplotlib inline``)."""
PYTHON_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
"""Magics whose text is Python (``%time answer = f()``), scanned like the rest of the cell."""


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
    course_cell_ids: frozenset[str] = frozenset()
    """The ids of every cell of the student edition: a submitted cell with one of them is the course's."""
    course_cell_sources: frozenset[str] = frozenset()
    """The stripped source of every cell of the student edition, for editors that renumber cell ids."""
    check_aliases: dict[str, str] = field(default_factory=dict)


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
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython, not Python (the setup cell's `!` line): no check is called there
        return source, []
    checks = []
    body = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        target = call.func if isinstance(call, ast.Call) else None
        if (isinstance(call, ast.Call) and isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
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
    cell_ids = frozenset(str(cell.get("id")) for cell in template.cells if cell.get("id"))
    cell_sources = frozenset(cell.source.strip() for cell in template.cells)
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
    return CourseNotebook(path.name, template, exercises, digest.hexdigest(), cell_ids, cell_sources, aliases)


def answer_cells(submitted: nbformat.NotebookNode, course: CourseNotebook) -> list[int | None]:
    """Return, for each answer cell of ``course``, the index of the student's cell that answers it (None: none does).

    A student's answer cell is matched by the answer variables it sets, else by
    its place among the answer cells when there are as many.
    """
    stubs = [cell.source for cell in course.template.cells if is_answer_cell(cell)]
    given = [index for index, cell in enumerate(submitted.cells) if is_answer_cell(cell)]
    if not given:  # tags lost (some editors drop them): cells that still start like the stub
        given = [index for index, cell in enumerate(submitted.cells)
                 if cell.cell_type == "code" and cell.source.lstrip().startswith(STUB_HEADER)]
    chosen: list[int | None] = [None] * len(stubs)
    unused = list(given)
    for place, stub in enumerate(stubs):
        wanted = set(answer_names(stub))
        for index in unused:
            try:
                names = set(answer_names(submitted.cells[index].source))
            except SyntaxError:
                continue
            if names & wanted:
                chosen[place] = index
                unused.remove(index)
                break
    if len(given) == len(stubs):
        chosen = [index if index is not None else given[place] if given[place] in unused else None
                  for place, index in enumerate(chosen)]
    return chosen


def answer_sources(submitted: nbformat.NotebookNode, course: CourseNotebook) -> list[str]:
    """Return the source for each answer cell of ``course``, taken from the student's notebook.

    An answer cell that cannot be matched (:func:`answer_cells`) keeps the
    stub (``answer = None``), which scores 0.
    """
    stubs = [cell.source for cell in course.template.cells if is_answer_cell(cell)]
    chosen = answer_cells(submitted, course)
    return [submitted.cells[index].source if index is not None else stub for index, stub in zip(chosen, stubs)]


def without_check_calls(source: str, aliases: dict[str, str]) -> str:
    """Return a cell's source without its calls to the checks and its imports of them (the grader judges itself).

    Example:
        >>> without_check_calls("from helpers.course.checks import start as check\\n"
        ...                     "print(answer_shape)\\ncheck.sum_shape(answer_shape)", {"check": "start"})
        'print(answer_shape)'
        >>> without_check_calls("check.sum_shape(answer_shape)", {"check": "start"})
        ''
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source  # it fails as it would for the student, and touches nothing
    dropped: set[int] = set()
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        target = call.func if isinstance(call, ast.Call) else None
        calls_check = (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                       and target.value.id in aliases)
        imports_checks = isinstance(statement, ast.ImportFrom) and statement.module == CHECKS_PACKAGE
        if calls_check or imports_checks:
            dropped.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    lines = source.splitlines()
    return "\n".join(line for number, line in enumerate(lines, start=1) if number not in dropped)


def added_cells(submitted: nbformat.NotebookNode, course: CourseNotebook) -> list[list[str]]:
    """Return, for each answer cell of ``course``, the code cells the student added above it, in order.

    A cell is the student's own when it is a code cell that answers no
    exercise and neither its id nor its text is one of the student edition's:
    an edited lesson or check cell keeps its id and is left out, as is a
    deleted one, while a copy of an answer cell (which keeps the tag, as
    JupyterLab copies it) holding a helper counts as added.
    Copies of check calls are dropped from it (the grader's own checks run),
    and so are cells below the last answer, which no answer can depend on.

    Example:
        >>> course = course_notebook(facts.NOTEBOOKS_DIR / "00_start_here.ipynb")
        >>> submitted = nbformat.read(facts.STUDENT_DIR / "00_start_here.ipynb", as_version=4)
        >>> first = next(i for i, cell in enumerate(submitted.cells) if is_answer_cell(cell))
        >>> submitted.cells.insert(first, nbformat.v4.new_code_cell("def six():\\n    return 6"))
        >>> added_cells(submitted, course)
        [['def six():\\n    return 6'], [], []]
    """
    chosen = answer_cells(submitted, course)
    place_of = {index: place for place, index in enumerate(chosen) if index is not None}
    added: list[list[str]] = [[] for _ in chosen]
    pending: list[str] = []
    for index, cell in enumerate(submitted.cells):
        if index in place_of:
            added[place_of[index]] += pending
            pending = []
            continue
        if (cell.cell_type != "code" or str(cell.get("id")) in course.course_cell_ids
                or cell.source.strip() in course.course_cell_sources):
            continue
        source = without_check_calls(cell.source, course.check_aliases).strip()
        if source and not is_stub(source):
            pending.append(source)
    return added


def suspicious_parts(source: str) -> list[str]:
    """Return what an answer cell touches that no answer needs (the checks, introspection...), sorted.

    Example:
        >>> suspicious_parts("import gc\\nanswer = [o for o in gc.get_objects()]")
        ['gc']
        >>> suspicious_parts("answer_shape = (3,)")
        []
        >>> suspicious_parts("model.eval()\\nanswer = len(list(model.modules()))"), suspicious_parts("eval('1')")
        ([], ['eval'])
    """
    found: set[str] = set()
    skipped: set[int] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics, `!` shell lines) runs too: scan what the kernel would run
        from IPython.core.inputtransformer2 import TransformerManager

        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError:
            return []  # it cannot run, so it cannot tamper: the check says it is wrong
        found.update(magic_parts(tree, skipped))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr] if node.attr in SUSPICIOUS_ATTRIBUTES else []
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] + ([node.module] if isinstance(node, ast.ImportFrom)
                                                               and node.module else [])
            names = [part for module in modules for part in (module, module.split(".")[0],
                                                               ".".join(module.split(".")[:2]))]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [word for word in SUSPICIOUS_TEXT if word in node.value]
        found.update(name for name in names if name in SUSPICIOUS_NAMES or name in SUSPICIOUS_TEXT)
    # ``_`` and its kin are rebound by every interactive interpreter (a doctest run leaves ``builtins._`` set too)
    found.update(f"redefines {name}" for name in top_level_names(tree)
                 if hasattr(builtins, name) and name not in IGNORED_BUILTINS)
    return sorted(found)


def magic_parts(tree: ast.Module, skipped: set[int]) -> list[str]:
    """Return what the IPython magics and shell lines of a transformed cell do that no answer needs.

    The nodes of each magic's call go into ``skipped``, so that its
    ``get_ipython()`` is not reported again; the Python text of ``%time`` and
    its kin is scanned as a cell of its own.

    Example:
        >>> from IPython.core.inputtransformer2 import TransformerManager
        >>> tree = ast.parse(TransformerManager().transform_cell("%matplotlib inline\\n!ls\\n%time import gc"))
        >>> magic_parts(tree, set())
        ['a shell command (!)', 'gc']
    """
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "get_ipython"):
            continue
        texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if node.func.attr in ("system", "getoutput"):
            found.append("a shell command (!)")
        elif node.func.attr in ("run_line_magic", "run_cell_magic") and texts:
            if texts[0] in PYTHON_MAGICS:
                found += [part for text in texts[1:] for part in suspicious_parts(text)]
            elif texts[0] not in HARMLESS_MAGICS:
                found.append(f"the magic %{texts[0]}")
        else:
            continue  # any other use of the shell is reported by name
        skipped.update(id(inner) for inner in ast.walk(node))
    return found


def top_level_names(tree: ast.Module) -> list[str]:
    """Return the names a cell binds in the notebook's namespace (not inside its functions or classes).

    Example:
        >>> top_level_names(ast.parse("x = 1\\ndef f():\\n    y = 2\\nfor i in []:\\n    z = 3"))
        ['f', 'x', 'i', 'z']
    """
    names = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(alias.asname or alias.name).split(".")[0] for alias in node.names]
        pending.extend(ast.iter_child_nodes(node))
    return names


def graded_notebook(course: CourseNotebook, answers: list[str], key_folder: str,
                    added: list[list[str]] | None = None) -> nbformat.NotebookNode:
    """Return the notebook to execute: the grader's guard, then the course's cells with the student's answers.

    ``added`` holds, per answer cell, the student's own cells to run just
    before it (see :func:`added_cells`). Each is tagged ``exercise`` (an answer
    cell's time limit) and ``added``, and the seal comes before the first of
    all the student's cells.
    """
    notebook = nbformat.from_dict(json.loads(json.dumps(course.template)))
    guard = nbformat.v4.new_code_cell("import helpers.tools.grading_kernel as _course_grader\n"
                                      f"_course_grader.start_guard({key_folder!r})")
    cells = [guard]
    added = added or [[] for _ in answers]
    place = 0
    for cell in notebook.cells:
        if is_answer_cell(cell):
            if place == 0:
                cells.append(nbformat.v4.new_code_cell("_course_grader.seal()"))
            cells += [nbformat.v4.new_code_cell(source, metadata={"tags": ["exercise", ADDED_TAG]})
                      for source in added[place]]
            cell.source = answers[place]
            cell.metadata["tags"] = ["exercise"]
            place += 1
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
            payload_text, given = ((item.get("payload"), item.get("signature")) if isinstance(item, dict)
                                   else (None, None))
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


def rows_for(task: GradeTask, verdicts: dict[str, dict[str, Any]], suspicious: dict[str, str],
             execution: Execution) -> list[dict[str, Any]]:
    """One gradebook row per exercise of the notebook: points, whether it passed, the hint and its flag."""
    rows = []
    for exercise in task.course.exercises:
        verdict = verdicts.get(exercise.check)
        flag = ""
        if exercise.check in suspicious:
            flag = f"{suspicious[exercise.check]}: graded 0, review it by hand"
            passed, hint = False, "your answer cell uses parts of Python no answer needs; see your instructor."
        elif verdict is None:
            passed = False
            hint = (f"not graded: {execution.stopped}." if execution.stopped else
                    "not graded: the grader's check did not run (an earlier cell may have stopped the kernel).")
        else:
            passed, hint = bool(verdict["passed"]), str(verdict["hint"])
            if len(hint) > MAX_HINT_CHARACTERS:
                hint = hint[:MAX_HINT_CHARACTERS] + "…"
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


def added_cell_stops(course: CourseNotebook, execution: Execution) -> dict[str, str]:
    """Return, per check, why a cell the student added above its answer was stopped (time, kernel or output)."""
    judged = exercises_of_answers(course)
    status = {run.index: run.status for run in execution.cells}
    stops: dict[str, str] = {}
    place = 0
    for index, cell in enumerate(execution.notebook.cells):
        tags = cell.metadata.get("tags", [])
        if ADDED_TAG not in tags:
            place += is_answer_cell(cell)
            continue
        reason = ("a cell added above the answer was stopped: it ran past the time an answer cell may take"
                  if status.get(index) == "timed out" else
                  "a cell added above the answer stopped the kernel" if status.get(index) == "kernel died" else
                  "a cell added above the answer printed past the output limit"
                  if index in execution.dropped_output_cells else "")
        if reason and place < len(judged):
            stops.update({check: reason for check in judged[place]})
    return stops


def grade_submission(task: GradeTask) -> NotebookGrade:
    """Grade one submission in its own sandboxed kernel; never raises for what the submission does."""
    import time

    started = time.perf_counter()
    submitted = nbformat.read(task.submission.path, as_version=4)
    answers = answer_sources(submitted, task.course)
    suspicious: dict[str, str] = {}
    added: list[list[str]] = []
    for source, extra, checks in zip(answers, added_cells(submitted, task.course),
                                     exercises_of_answers(task.course)):
        parts = suspicious_parts(source)
        suspicious.update({check: f"answer cell uses {', '.join(parts)}" for check in checks if parts})
        unsafe = sorted({part for cell in extra for part in suspicious_parts(cell)})
        if unsafe:  # never run: the answer below it scores 0, and the instructor sees why
            suspicious.update({check: f"a cell added above the answer uses {', '.join(unsafe)} (not run)"
                               for check in checks})
        added.append([cell for cell in extra if not suspicious_parts(cell)])
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        key = secrets.token_bytes(32)
        (scratch / "sockets").mkdir()
        (scratch / "sockets" / KEY_FILE_NAME).write_bytes(key)
        notebook = graded_notebook(task.course, answers, str(scratch / "sockets"), added)
        execution = execute_untrusted(notebook, scratch, task.limits, task.environment, task.hidden,
                                      keep_mime_types=(GRADE_MIME_TYPE,), use_bubblewrap=task.use_bubblewrap)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdicts, flags = signed_verdicts(execution.notebook, key)
    if execution.output_dropped:
        flags.append(f"printed more than {task.limits.output_bytes // 2**20} MiB: the rest was dropped.")
    task.executed_path.parent.mkdir(parents=True, exist_ok=True)  # a cluster worker may have another disk
    write_atomically(task.executed_path, nbformat.writes(execution.notebook))
    suspicious = {**added_cell_stops(task.course, execution), **suspicious}
    rows = rows_for(task, verdicts, suspicious, execution)
    if flags and any("forged" in flag for flag in flags):
        for row in rows:
            row.update(points=0.0, passed=False, flag=row["flag"] or "a forged verdict was displayed; graded 0")
    return NotebookGrade(task.submission.student, task.course.name, rows, flags, execution.stopped,
                         round(time.perf_counter() - started, 1), [asdict(cell) for cell in execution.cells],
                         execution.sandbox)


class GradingError(ValueError):
    """Input the grade command refuses: the message says what is wrong and what to do."""


def readable_name(name: str) -> str | None:
    """Return ``name`` if it is valid UTF-8 text, else None (Python keeps undecodable bytes as surrogates).

    Example:
        >>> readable_name("alice"), readable_name("b\\udcffb")
        ('alice', None)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return name


def recognise_notebook(path: Path, notebook: nbformat.NotebookNode, course_names: list[str]) -> str | None:
    """Return which course notebook a submitted file is: by the course's metadata, its badges, else its file name.

    Example:
        >>> recognise_notebook(Path("alice - 01_tensors_and_autograd (2).ipynb"), nbformat.v4.new_notebook(),
        ...                    ["00_start_here.ipynb", "01_tensors_and_autograd.ipynb"])
        '01_tensors_and_autograd.ipynb'
    """
    named = notebook.metadata.get(NOTEBOOK_KEY)
    if isinstance(named, str) and named in course_names:
        return named
    badges = next((cell.source for cell in notebook.cells if "badges" in cell.metadata.get("tags", [])), "")
    in_badges = [name for name in course_names if isinstance(badges, str) and name in badges]
    if len(in_badges) == 1:
        return in_badges[0]
    in_file_name = [name for name in course_names if name[:-len(".ipynb")] in path.name]
    return in_file_name[0] if len(in_file_name) == 1 else None


def submission_files(root: Path, student_pattern: str | None) -> tuple[list[tuple[str, Path]], list[str]]:
    """Return (student, file) for every .ipynb under ``root``, and one line per file that has to be skipped.

    Without a pattern each student is a folder of ``root``; with one, ``root``
    is a flat folder and the pattern's group ``student`` (or its first group)
    takes the student out of each file name.
    """
    found, problems = [], []
    if student_pattern is None:
        entries = sorted(root.iterdir())
        loose = [entry.name for entry in entries if entry.is_file() and entry.suffix == ".ipynb"]
        if loose and not any(entry.is_dir() for entry in entries):
            raise GradingError(f"{root} holds notebooks but no student folders: give one folder per student "
                               "(SUBMISSIONS/alice/01_tensors_and_autograd.ipynb), or --student-pattern REGEX for "
                               "a flat folder of LMS downloads, e.g. --student-pattern '^(?P<student>[^_]+)_'.")
        pairs = [(folder.name, path) for folder in entries if folder.is_dir() and not folder.name.startswith(".")
                 for path in sorted(folder.rglob("*.ipynb")) if ".ipynb_checkpoints" not in path.parts]
    else:
        pattern = re.compile(student_pattern)
        if not pattern.groups:
            raise GradingError(f"--student-pattern {student_pattern!r} has no group: put the student's part of the "
                               "file name in parentheses, e.g. '^(?P<student>[^_]+)_'.")
        pairs = []
        for path in sorted(root.glob("*.ipynb")):
            match = pattern.search(path.name)
            student = match and (match.groupdict().get("student") or match.group(1))
            if not student:
                problems.append(f"{path.name}: --student-pattern finds no student in this name; skipped.")
                continue
            pairs.append((student, path))
    for student, path in pairs:
        if readable_name(student) is None or readable_name(str(path.relative_to(root))) is None:
            shown = str(path.relative_to(root)).encode("utf-8", "backslashreplace").decode("ascii", "replace")
            problems.append(f"{shown}: the name is not UTF-8 text, so it cannot be reported; rename it and grade "
                            "again. Skipped.")
            continue
        found.append((student.strip(), path))
    return found, problems


def find_submissions(root: Path, course_names: list[str], student_pattern: str | None = None
                     ) -> tuple[list[Submission], list[str]]:
    """Return the submissions to grade (the newest per student and notebook) and one line per problem found."""
    files, problems = submission_files(root, student_pattern)
    chosen: dict[tuple[str, str], Path] = {}
    for student, path in files:
        shown = path.relative_to(root)
        try:
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
        except Exception as error:  # any broken file: one line, then the others
            problems.append(f"{shown}: not a readable notebook ({type(error).__name__}); ask the student to "
                            "download it again from Jupyter or Colab (File > Download .ipynb). Skipped.")
            continue
        name = recognise_notebook(path, notebook, course_names)
        if name is None:
            problems.append(f"{shown}: not one of the course's notebooks (neither its metadata, its badges nor its "
                            "file name says which); skipped.")
            continue
        earlier = chosen.get((student, name))
        if earlier is not None:
            newer, older = sorted([earlier, path], key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)
            problems.append(f"{student} handed in {name} twice ({older.relative_to(root)} and "
                            f"{newer.relative_to(root)}): the newest, {newer.relative_to(root)}, is graded.")
            path = newer
        chosen[(student, name)] = path
    submissions = [Submission(student, name, path) for (student, name), path in sorted(chosen.items())]
    return submissions, problems


@dataclass
class ClassGrades:
    """What one ``grade`` command did: every grade, the files it skipped, and how long new grades took."""

    grades: list[NotebookGrade]
    problems: list[str]
    graded: int
    reused: int
    seconds_per_submission: list[float]
    sandbox: str
    report: Path


def check_grades_folder(out: OutputFolder, submissions_dir: Path) -> None:
    """Refuse an output folder that is a file, overlaps the submissions, or holds files ``grade`` did not write."""
    out_dir = out.folder
    if not submissions_dir.is_dir():
        raise GradingError(f"no folder of submissions at {submissions_dir}: give the folder that holds one folder "
                           "per student (or the LMS downloads, with --student-pattern).")
    if out_dir.exists() and not out_dir.is_dir():
        raise GradingError(f"--out {out_dir} is a file: give a folder for the grades (it is created if needed).")
    out_resolved, submissions = out_dir.resolve(), submissions_dir.resolve()
    if out_resolved == submissions or submissions in out_resolved.parents or out_resolved in submissions.parents:
        raise GradingError(f"--out {out_dir} and the submissions {submissions_dir} overlap: grades and feedback "
                           "would mix with the students' files. Choose a folder outside, e.g. --out grades.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not out.manifest_path.is_file():
        raise GradingError(f"--out {out_dir} already holds files that grade did not write: they could be "
                           "overwritten. Choose a new or empty folder, or the folder of an earlier grading.")


def check_grades_outputs(out: OutputFolder, submissions: list[Submission]) -> None:
    """Refuse, before grading, if any file ``grade`` would write is someone else's or was changed by hand."""
    names = ["gradebook.csv", "grades_long.csv", "report.html"]
    for submission in submissions:
        names += [feedback_name(submission.student, submission.notebook), executed_name(submission)]
    try:
        out.check_can_write(names)
    except ForeignFileError as error:
        raise GradingError(f"{error} (A gradebook.csv edited by hand counts as changed: copy your edits "
                           "elsewhere first, since the next grading rewrites it.)") from None


def executed_name(submission: Submission) -> str:
    """Where, inside the grades folder, the executed copy of a submission goes."""
    return f"executed/{file_name_for(submission.student)}/{submission.notebook}"


def grading_environment(preset: str, use_bubblewrap: bool, jobs: int) -> dict[str, str]:
    """The variables a graded kernel gets: the preset, the instructor's prepared data, checkpoints in its scratch."""
    from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR, DATA_DIR_ENV_VAR
    from helpers.course.prepare import prepare_cell_images
    from helpers.course.presets import PRESET_ENV_VAR, resolve_settings
    from helpers.tools.runner import threads_per_job
    from helpers.tools.sandbox import SANDBOX_WORK_DIR

    settings = resolve_settings(preset)
    data = prepare_cell_images(settings).parent.parent  # made once here, read-only for the kernels
    checkpoints = f"{SANDBOX_WORK_DIR}/checkpoints" if use_bubblewrap else "checkpoints"
    return {PRESET_ENV_VAR: preset, DATA_DIR_ENV_VAR: str(data), CHECKPOINT_DIR_ENV_VAR: checkpoints,
            "MPLBACKEND": "Agg", **threads_per_job(jobs)}


def hidden_folders(submissions_dir: Path, out_dir: Path, notebooks_dir: Path) -> list[Path]:
    """What a graded kernel must not see: the submissions, the grades, the solutions, and the instructor's home.

    The home folder is hidden only when neither Python nor the course lives in it.
    """
    import sys

    hidden = [submissions_dir.resolve(), out_dir.resolve(), notebooks_dir.resolve(),
              facts.CHECKOUT_ROOT / "tests", facts.CHECKOUT_ROOT / ".git"]
    home = Path.home().resolve()
    needed = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve(), facts.CHECKOUT_ROOT]
    if home != Path("/") and not any(home == path.resolve() or home in path.resolve().parents for path in needed):
        hidden.append(home)
    return hidden


def submission_key(submission: Submission, course: CourseNotebook, preset: str, limits: Limits) -> str:
    """Return what a kept grade must match to be reused: the file's bytes, the course's notebook, the settings."""
    digest = hashlib.sha256(submission.path.read_bytes())
    digest.update(f"\0{course.version}\0{preset}\0{json.dumps(asdict(limits), sort_keys=True)}".encode())
    return digest.hexdigest()


def grade_class(submissions_dir: Path, out_dir: Path, *, student_pattern: str | None = None, preset: str = "smoke",
                limits: Limits = DEFAULT_LIMITS, jobs: int = 1, cluster: str | None = None,
                notebooks_dir: Path = facts.NOTEBOOKS_DIR, progress: Any = print) -> ClassGrades:
    """Grade every submission in ``submissions_dir`` into ``out_dir``; reuse grades whose submission is unchanged.

    Raises:
        GradingError: a missing submissions folder, an output folder it must not write into, a bad pattern.
    """
    from concurrent.futures import as_completed

    from helpers.tools import gradebook
    from helpers.tools.backend import task_executor

    out = OutputFolder(out_dir, "grade")
    check_grades_folder(out, submissions_dir)
    courses = {path.name: course_notebook(path) for path in facts.notebook_paths(notebooks_dir)}
    if not courses:
        raise GradingError(f"no course notebooks in {notebooks_dir}: grade from a checkout of the course.")
    submissions, problems = find_submissions(submissions_dir, list(courses), student_pattern)
    check_grades_outputs(out, submissions)
    out.folder.mkdir(parents=True, exist_ok=True)
    sandboxed = bubblewrap() is not None
    columns = [exercise.column for course in courses.values() for exercise in course.exercises]
    grades: dict[tuple[str, str], NotebookGrade] = {}
    tasks = []
    for submission in submissions:
        key = submission_key(submission, courses[submission.notebook], preset, limits)
        kept = gradebook.load_kept_grade(out, submission.student, submission.notebook, key)
        if kept is not None:
            grades[(submission.student, submission.notebook)] = kept
        else:
            tasks.append((key, submission))
    reused = len(grades)
    seconds: list[float] = []

    def write_all() -> Path:
        ordered = sorted(grades.values(), key=lambda grade: (grade.student, grade.notebook))
        gradebook.write_gradebooks(out, ordered, columns)
        return gradebook.write_class_report(out, ordered, columns, problems, sandbox_description(sandboxed),
                                            seconds)

    report = write_all()
    if tasks:
        environment = grading_environment(preset, sandboxed, jobs)
        hidden = hidden_folders(submissions_dir, out_dir, notebooks_dir)
        for _, submission in tasks:
            out.make_folder(Path(executed_name(submission)).parent)
        with task_executor(jobs, cluster) as executor:
            futures = {executor.submit(grade_submission, GradeTask(
                submission, courses[submission.notebook], limits, environment, hidden,
                out.folder / executed_name(submission),
                sandboxed)): (key, submission) for key, submission in tasks}
            for future in as_completed(futures):
                key, submission = futures[future]
                try:
                    grade = future.result()
                except Exception as error:  # a grader bug or a lost worker: reported, the others go on
                    problems.append(f"{submission.student}, {submission.notebook}: grading failed with "
                                    f"{type(error).__name__}: {error}. Run grade again to retry it.")
                    continue
                grade.key = key
                executed = out.folder / executed_name(submission)
                if executed.is_file():  # a cluster worker without this file system writes it on its own disk
                    out.record(executed.relative_to(out.folder), sha256_of(executed))
                gradebook.keep_grade(out, grade)
                gradebook.write_feedback(out, grade)
                grades[(submission.student, submission.notebook)] = grade
                seconds.append(grade.seconds)
                report = write_all()
                progress(f"graded {submission.student}, {submission.notebook}: "
                         f"{sum(row['points'] for row in grade.rows):g}/{sum(row['possible'] for row in grade.rows):g}"
                         f" in {grade.seconds:.1f} s" + (f" ({grade.stopped})" if grade.stopped else ""))
    return ClassGrades(sorted(grades.values(), key=lambda grade: (grade.student, grade.notebook)), problems,
                       len(tasks), reused, seconds, sandbox_description(sandboxed), report)
