"""Grading without kernels: finding submissions, matching answer cells, verdicts the grader trusts, the gradebook."""

import csv
import json
import os
import sys

import nbformat
import pytest

from helpers.course import facts
from helpers.tools import cli, grade, gradebook, grading_kernel, sandbox
from helpers.tools.gradebook import NotebookGrade
from helpers.tools.manifest import OutputFolder
from helpers.tools.student_edition import answer_names

COURSE_NAMES = [path.name for path in facts.notebook_paths()]


def student_edition(name):
    return nbformat.read(facts.STUDENT_DIR / name, as_version=4)


def with_answers(name, answers):
    """The student edition of ``name`` with its answer cells' sources replaced, in order (None keeps the stub)."""
    notebook = student_edition(name)
    cells = [cell for cell in notebook.cells if "exercise" in cell.metadata.get("tags", [])]
    for cell, answer in zip(cells, answers):
        if answer is not None:
            cell.source = answer
    return notebook


def solutions(name):
    notebook = nbformat.read(facts.NOTEBOOKS_DIR / name, as_version=4)
    return [cell.source for cell in notebook.cells if "solution" in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("name", COURSE_NAMES)
def test_every_check_cell_becomes_a_judged_exercise(name):
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / name)
    answers = [cell for cell in course.template.cells if grade.is_answer_cell(cell)]
    assert course.exercises and len(course.exercises) >= len(answers)
    assert {exercise.check for exercise in course.exercises} <= set(grading_kernel.captured_checks())
    assert all(exercise.column.startswith(name[:2] + "/") and exercise.points == 1 for exercise in course.exercises)
    for cell in course.template.cells:  # no check is left that prints a verdict the grader would not read
        assert "check." not in cell.source.replace("_course_grader.judge", "") or "import" in cell.source


def test_a_check_call_keeps_its_arguments_and_keywords():
    text, checks = grade.judged_source("x = 1\ncheck.recall(answer, matrix, classes=names)", {"check": "capstone"})
    assert checks == ["capstone.recall"]
    assert "lambda: ((answer, matrix), {'classes': names})" in text and text.count("x = 1") == 1


def test_points_come_from_the_course_notebook_metadata(tmp_path):
    source = nbformat.read(facts.NOTEBOOKS_DIR / "01_tensors_and_autograd.ipynb", as_version=4)
    source.metadata[grade.POINTS_KEY] = {"product_shape": 2, "tensors.derivative": 0.5}
    nbformat.write(source, tmp_path / "01_tensors_and_autograd.ipynb")
    course = grade.course_notebook(tmp_path / "01_tensors_and_autograd.ipynb")
    assert {exercise.column: exercise.points for exercise in course.exercises} == {
        "01/product_shape": 2.0, "01/centred_columns": 1.0, "01/derivative": 0.5}


def test_answer_cells_are_matched_by_their_answer_variables_not_their_place():
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / "01_tensors_and_autograd.ipynb")
    submitted = with_answers("01_tensors_and_autograd.ipynb", [None, None, None])
    cells = [cell for cell in submitted.cells if "exercise" in cell.metadata.get("tags", [])]
    cells[0].source, cells[2].source = "answer_derivative = None", "answer_product_shape = (16, 10)"
    cells[1].metadata["tags"] = []  # an answer cell that lost its tag keeps the stub
    taken = grade.answer_sources(submitted, course)
    assert taken[0] == "answer_product_shape = (16, 10)" and taken[2] == "answer_derivative = None"
    assert answer_names(taken[1]) == ["answer_centred"] and taken[1].endswith("= None")


def test_edited_lesson_and_check_cells_are_ignored():
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / "01_tensors_and_autograd.ipynb")
    submitted = with_answers("01_tensors_and_autograd.ipynb", ["answer_product_shape = (16, 10)"])
    for cell in submitted.cells:
        if "exercise" not in cell.metadata.get("tags", []) and cell.cell_type == "code":
            cell.source = "print('my own lesson')"
    graded = grade.graded_notebook(course, grade.answer_sources(submitted, course), "/keys")
    sources = [cell.source for cell in graded.cells]
    assert "my own lesson" not in "".join(sources)
    assert sources[0].endswith("start_guard('/keys')")
    assert sources.index("_course_grader.seal()") == sources.index("answer_product_shape = (16, 10)") - 1


def exercise_places(notebook):
    return [index for index, cell in enumerate(notebook.cells) if "exercise" in cell.metadata.get("tags", [])]


def test_cells_a_student_added_run_before_the_answer_below_them_and_edited_course_cells_do_not():
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / "00_start_here.ipynb")
    submitted = with_answers("00_start_here.ipynb", ["answer_tensor = six_numbers()", None, None])
    first, second, third = exercise_places(submitted)
    check_cell = submitted.cells[first + 1]
    check_cell.source = "print('my own check')"  # an edited check cell keeps its id: the course's is run
    renumbered = nbformat.v4.new_code_cell(submitted.cells[third - 1].source)  # a lesson cell, new id, same text
    copied_check = nbformat.v4.new_code_cell("from helpers.course.checks import start as check\n"
                                             "check.sum_shape(answer_shape)")
    submitted.cells[third:third] = [nbformat.v4.new_code_cell("print(answer_shape)"), renumbered]
    submitted.cells[second:second] = [copied_check]
    submitted.cells[first:first] = [nbformat.v4.new_code_cell("import torch\n\ndef six_numbers():\n"
                                                              "    return torch.arange(1, 7).reshape(2, 3)"),
                                    nbformat.v4.new_markdown_cell("my notes")]
    submitted.cells.append(nbformat.v4.new_code_cell("print('after the last answer')"))
    del submitted.cells[2]  # a deleted lesson cell changes nothing either
    added = grade.added_cells(submitted, course)
    assert added == [["import torch\n\ndef six_numbers():\n    return torch.arange(1, 7).reshape(2, 3)"], [],
                     ["print(answer_shape)"]]
    graded = grade.graded_notebook(course, grade.answer_sources(submitted, course), "/keys", added)
    sources = [cell.source for cell in graded.cells]
    assert "my own check" not in "".join(sources) and "after the last answer" not in "".join(sources)
    helper = sources.index(added[0][0])
    assert sources[helper - 1] == "_course_grader.seal()" and sources[helper + 1] == "answer_tensor = six_numbers()"
    assert sources[sources.index("print(answer_shape)") + 1].endswith("answer_loader = None")
    assert graded.cells[helper].metadata["tags"] == ["exercise", grade.ADDED_TAG]


def test_a_copied_answer_cell_that_holds_a_helper_counts_as_added():
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / "00_start_here.ipynb")
    submitted = with_answers("00_start_here.ipynb", ["answer_tensor = six_numbers()"])
    first = exercise_places(submitted)[0]
    copy = nbformat.v4.new_code_cell("def six_numbers():\n    return torch.arange(1, 7).reshape(2, 3)",
                                     metadata={"tags": ["exercise"]})  # JupyterLab copies keep the tag
    submitted.cells.insert(first, copy)
    assert grade.answer_sources(submitted, course)[0] == "answer_tensor = six_numbers()"
    assert grade.added_cells(submitted, course)[0] == [copy.source]


def test_an_unchanged_student_edition_has_no_added_cells():
    for name in COURSE_NAMES:
        course = grade.course_notebook(facts.NOTEBOOKS_DIR / name)
        assert all(cells == [] for cells in grade.added_cells(student_edition(name), course)), name


def test_an_added_cell_that_reaches_for_the_machinery_is_never_run_and_flags_the_answer_below(tmp_path, monkeypatch):
    submitted = with_answers("00_start_here.ipynb", ["answer_tensor = torch.arange(1, 7).reshape(2, 3)"])
    second = exercise_places(submitted)[1]
    submitted.cells.insert(second, nbformat.v4.new_code_cell("import gc\nhelper = gc.get_objects()"))
    path = tmp_path / "00_start_here.ipynb"
    nbformat.write(submitted, path)
    course = grade.course_notebook(facts.NOTEBOOKS_DIR / "00_start_here.ipynb")
    executed = []

    def fake_execution(notebook, *args, **kwargs):
        executed.append([cell.source for cell in notebook.cells])
        return grade.Execution(notebook)

    monkeypatch.setattr(grade, "execute_untrusted", fake_execution)
    task = grade.GradeTask(grade.Submission("alice", course.name, path), course, grade.Limits(), {}, [],
                           tmp_path / "executed.ipynb", False)
    rows = {row["exercise"]: row for row in grade.grade_submission(task).rows}
    assert not any("gc.get_objects" in source for source in executed[0])
    assert "added above" in rows["00/sum_shape"]["flag"] and "gc" in rows["00/sum_shape"]["flag"]
    assert rows["00/first_tensor"]["flag"] == "" and rows["00/batches_of_four"]["flag"] == ""


@pytest.mark.parametrize("name", COURSE_NAMES)
def test_no_reference_solution_looks_suspicious(name):
    for source in solutions(name):
        assert grade.suspicious_parts(source) == [], source


@pytest.mark.parametrize("attack, found", [
    ("from helpers.course.checks import start\nstart.first_tensor.result = lambda *a: None", "helpers.course"),
    ("import sys\nsys.modules['helpers.course.checks.start'] = None", "sys"),
    ("print = lambda *args: None", "redefines print"),
    ("def print(*args):\n    pass", "redefines print"),
    ("import gc\nanswer = gc.get_objects()", "gc"),
    ("answer_tensor = None\n(lambda: 0).__code__", "__code__"),
    ("class Liar(int):\n    def __eq__(self, other):\n        return True\nanswer_shape = (Liar(3),)", "__eq__"),
    ("get_ipython().run_cell('x')", "get_ipython"),
    ("open(helpers.__file__.replace('__init__.py', 'course/checks/start.py')).read()", "checks"),
    ("from IPython.display import display\ndisplay({}, raw=True)", "IPython"),
    ("getattr(__builtins__, 'ex' + 'ec')('1')", "__builtins__"),
    ("import ctypes", "ctypes"),
    ("!cat /etc/passwd\nanswer_shape = (3,)", "a shell command (!)"),
    ("%%writefile patch.py\nimport torch", "the magic %writefile"),
    ("%run patch.py", "the magic %run"),
    ("%time import gc", "gc"),
    ("%%capture\nprint = len", "redefines print"),
])
def test_answer_cells_that_reach_for_the_machinery_are_flagged(attack, found):
    assert found in grade.suspicious_parts(attack)


def test_a_broken_answer_cell_is_not_flagged_it_just_fails():
    assert grade.suspicious_parts("answer = (") == []


def test_harmless_ipython_in_an_answer_cell_is_not_flagged():
    assert grade.suspicious_parts("%matplotlib inline\nanswer_shape = (3,)") == []
    assert grade.suspicious_parts("%time answer_shape = (3,)") == []


def test_the_fingerprint_sees_a_patched_library_function_or_check(monkeypatch):
    import torch

    from helpers.course.checks import start

    before = grading_kernel.fingerprint()
    monkeypatch.setattr(torch, "equal", lambda *args: True)
    monkeypatch.setattr(start.first_tensor, "result", lambda *args: None)
    monkeypatch.setattr(start, "kind_of", lambda value: "x", raising=False)
    changed = grading_kernel.changed_since(before, grading_kernel.fingerprint())
    assert {"torch.equal", "helpers.course.checks.start.first_tensor"} <= set(changed)
    monkeypatch.undo()
    assert grading_kernel.changed_since(before, grading_kernel.fingerprint()) == []


def verdict_output(key, check, passed, signature=None):
    payload = json.dumps({"check": check, "passed": passed, "hint": "", "tampered": [], "sequence": 1})
    data = {grading_kernel.GRADE_MIME_TYPE: {"payload": payload,
                                             "signature": signature or grading_kernel.signature(key, payload)}}
    return nbformat.v4.new_output("display_data", data=data)


def test_only_verdicts_signed_with_the_key_and_shown_by_the_graders_cells_count():
    key = b"k" * 32
    judge = "_course_grader.judge('start.sum_shape', lambda: ((answer_shape,), {}))"
    answer = nbformat.v4.new_code_cell("answer_shape = (3,)", metadata={"tags": ["exercise"]})
    answer.outputs = [verdict_output(key, "start.first_tensor", True)]  # a real signature, in the wrong cell
    forged = nbformat.v4.new_code_cell(judge, outputs=[verdict_output(key, "start.batches_of_four", True, "00")])
    real = nbformat.v4.new_code_cell(judge, outputs=[verdict_output(key, "start.sum_shape", False),
                                                     verdict_output(key, "start.sum_shape", True)])
    verdicts, flags = grade.signed_verdicts(nbformat.v4.new_notebook(cells=[answer, forged, real]), key)
    assert list(verdicts) == ["start.sum_shape"] and verdicts["start.sum_shape"]["passed"] is False
    assert any("forged" in flag for flag in flags) and any("judged twice" in flag for flag in flags)


def write_notebook(path, notebook):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def test_submissions_are_found_and_every_problem_gets_one_line(tmp_path):
    root = tmp_path / "submissions"
    write_notebook(root / "alice" / "01_tensors_and_autograd.ipynb", student_edition("01_tensors_and_autograd.ipynb"))
    renamed = write_notebook(root / "alice" / "my work.ipynb", student_edition("00_start_here.ipynb"))  # badges say
    old = write_notebook(root / "bob" / "01_tensors_and_autograd (1).ipynb",
                         student_edition("01_tensors_and_autograd.ipynb"))
    new = write_notebook(root / "bob" / "01_tensors_and_autograd (2).ipynb",
                         student_edition("01_tensors_and_autograd.ipynb"))
    os.utime(old, (1_000_000, 1_000_000))
    (root / "bob" / "02_transforms.ipynb").write_text("{ not json", encoding="utf-8")
    write_notebook(root / "bob" / "holiday.ipynb", nbformat.v4.new_notebook())
    os.close(os.open(os.fsencode(root / "bob") + b"/\xff\xfe_00_start_here.ipynb", os.O_CREAT | os.O_WRONLY))
    found, problems = grade.find_submissions(root, COURSE_NAMES)
    assert [(s.student, s.notebook, s.path) for s in found] == [
        ("alice", "00_start_here.ipynb", renamed), ("alice", "01_tensors_and_autograd.ipynb",
                                                    root / "alice" / "01_tensors_and_autograd.ipynb"),
        ("bob", "01_tensors_and_autograd.ipynb", new)]
    assert len(problems) == 4
    assert any("twice" in line and "(2).ipynb, is graded" in line for line in problems)
    assert any(line.startswith("bob/02_transforms.ipynb: not a readable notebook") for line in problems)
    assert any(line.startswith("bob/holiday.ipynb: not one of the course's notebooks") for line in problems)
    assert any("not UTF-8" in line for line in problems)


@pytest.mark.parametrize("name", COURSE_NAMES)
def test_the_student_edition_names_its_notebook_and_the_grader_recognises_it_by_that_alone(name):
    from helpers.tools.student_edition import student_notebook

    edition = student_notebook(nbformat.read(facts.NOTEBOOKS_DIR / name, as_version=4), name)
    assert edition.metadata[grade.NOTEBOOK_KEY] == name
    for cell in edition.cells:  # no badges to go by, and a file name that says nothing
        cell.metadata.get("tags", []).clear()
    assert grade.recognise_notebook(facts.CHECKOUT_ROOT / "homework (3).ipynb", edition, COURSE_NAMES) == name
    edition.metadata[grade.NOTEBOOK_KEY] = "99_not_in_the_course.ipynb"
    assert grade.recognise_notebook(facts.CHECKOUT_ROOT / "homework (3).ipynb", edition, COURSE_NAMES) is None


def test_a_flat_folder_of_lms_downloads_takes_the_student_from_the_file_name(tmp_path):
    root = tmp_path / "downloads"
    write_notebook(root / "alice_01_tensors_and_autograd.ipynb", student_edition("01_tensors_and_autograd.ipynb"))
    write_notebook(root / "bob_00_start_here.ipynb", student_edition("00_start_here.ipynb"))
    write_notebook(root / "README.ipynb", nbformat.v4.new_notebook())
    found, problems = grade.find_submissions(root, COURSE_NAMES, r"^(?P<student>[a-z]+)_\d\d")
    assert [(s.student, s.notebook) for s in found] == [("alice", "01_tensors_and_autograd.ipynb"),
                                                         ("bob", "00_start_here.ipynb")]
    assert problems == ["README.ipynb: --student-pattern finds no student in this name; skipped."]
    with pytest.raises(grade.GradingError, match="no group"):
        grade.find_submissions(root, COURSE_NAMES, r"^[a-z]+_")
    with pytest.raises(grade.GradingError, match="--student-pattern"):
        grade.find_submissions(root, COURSE_NAMES)  # loose notebooks and no folders: say how to name students


def test_the_grades_folder_is_never_one_with_other_files_or_inside_the_submissions(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    for out, message in [(tmp_path / "mine", "did not write"), (submissions / "grades", "overlap"),
                         (tmp_path / "mine" / "notes.txt", "is a file")]:
        with pytest.raises(grade.GradingError, match=message):
            grade.check_grades_folder(OutputFolder(out, "grade"), submissions)
    with pytest.raises(grade.GradingError, match="no folder of submissions"):
        grade.check_grades_folder(OutputFolder(tmp_path / "grades", "grade"), tmp_path / "missing")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def a_grade(student, passed, hint="", flag=""):
    rows = [{"student": student, "notebook": "00_start_here.ipynb", "exercise": "00/sum_shape", "check": "start.x",
             "points": 1.0 if passed else 0.0, "possible": 1.0, "passed": passed, "hint": hint, "flag": flag}]
    return NotebookGrade(student, "00_start_here.ipynb", rows)


def test_gradebooks_one_row_per_student_and_cells_a_spreadsheet_will_not_run(tmp_path):
    grades = [a_grade("alice", True), a_grade("=cmd|' /C calc'!A0", False, hint="=HYPERLINK(\"x\")", flag="f")]
    gradebook.write_gradebooks(OutputFolder(tmp_path, "grade"), grades, ["00/sum_shape", "01/product_shape"])
    wide = list(csv.DictReader((tmp_path / "gradebook.csv").open(encoding="utf-8")))
    assert [row["student"] for row in wide] == ["'=cmd|' /C calc'!A0", "alice"]
    assert wide[1]["00/sum_shape"] == "1.0" and wide[1]["01/product_shape"] == "" and wide[1]["total"] == "1.0"
    assert wide[0]["flags"] == "00/sum_shape: f"
    long = list(csv.DictReader((tmp_path / "grades_long.csv").open(encoding="utf-8")))
    assert long[1]["hint"] == "'=HYPERLINK(\"x\")" and set(long[0]) == {
        "student", "notebook", "exercise", "points", "hint", "flag"}


def test_feedback_and_report_escape_what_students_wrote(tmp_path):
    grades = [a_grade("<script>alert(1)</script>", False, hint="you gave the text \"<img src=x>\"")]
    out = OutputFolder(tmp_path, "grade")
    page = gradebook.write_feedback(out, grades[0]).read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;img src=x&gt;" in page and "not yet" in page
    report = gradebook.write_class_report(out, grades, ["00/sum_shape"], ["x.ipynb: <b>skipped</b>"],
                                          "no sandbox", [2.0]).read_text(encoding="utf-8")
    assert "<script>" not in report and "<svg" in report and "&lt;b&gt;skipped" in report and "2.0 s per" in report


def test_a_kept_grade_is_reused_only_for_the_same_key(tmp_path):
    kept = a_grade("alice", True)
    kept.key = "abc"
    out = OutputFolder(tmp_path, "grade")
    gradebook.keep_grade(out, kept)
    assert gradebook.load_kept_grade(out, "alice", "00_start_here.ipynb", "abc") == kept
    assert gradebook.load_kept_grade(out, "alice", "00_start_here.ipynb", "other") is None
    (tmp_path / gradebook.kept_grade_name("alice", "00_start_here.ipynb")).write_text("{half")
    assert gradebook.load_kept_grade(OutputFolder(tmp_path, "grade"), "alice", "00_start_here.ipynb", "abc") is None


def test_student_names_become_distinct_safe_folder_names():
    names = ["alice", "Alice Smith", "alice/../..", "..", "Zoë"]
    folders = [gradebook.file_name_for(name) for name in names]
    assert len(set(folders)) == len(folders) and all("/" not in f and not f.startswith(".") for f in folders)


def test_grade_command_bad_input_is_one_line_and_status_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["grade", "missing-folder", "--out", "grades"]) == 2
    assert "no folder of submissions" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["grade", ".", "--out", "grades", "--timeout", "3"])
    assert stopped.value.code == 2 and "--timeout must be 10 or more" in capsys.readouterr().err
    assert not (tmp_path / "grades").exists()


def test_grade_is_documented_in_the_command_line_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    text = capsys.readouterr().out
    assert "--student-pattern" in text and "--cluster" in text and "--timeout" in text
    assert sys.modules["helpers.tools.cli"].__doc__.count("grade SUBMISSIONS") == 1


def test_the_instructors_guide_covers_its_topics_and_its_commands_parse():
    guide = (facts.CHECKOUT_ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    for topic in ["Handing out the student edition", "Collecting submissions", "Grading", "Colab's GPUs",
                  "A suggested schedule", "Writing a new exercise and its check", "What this does not stop"]:
        assert topic in guide
    parser = cli.build_parser()
    commands = [line.split("#")[0].split()[3:] for line in guide.splitlines()
                if line.startswith("python -m helpers ")]
    assert {command[0] for command in commands} >= {"grade", "run", "student-edition"}
    for command in commands:
        parser.parse_args([word.strip("'") for word in command])


@pytest.mark.parametrize("module", ["grade", "gradebook", "grading_kernel", "sandbox", "backend"])
def test_the_examples_in_the_grading_modules_run(module):
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(f"helpers.tools.{module}"))
    assert failures == 0 and tried > 0


def test_the_guard_signs_its_verdicts_and_a_second_seal_does_not_bless_a_patch(tmp_path, monkeypatch):
    import torch

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data))
    monkeypatch.setattr(grading_kernel, "_state", {})
    key = b"k" * 32
    (tmp_path / grading_kernel.KEY_FILE_NAME).write_bytes(key)
    grading_kernel.start_guard(str(tmp_path))
    assert not (tmp_path / grading_kernel.KEY_FILE_NAME).exists()  # read once, then gone
    grading_kernel.seal()
    grading_kernel.judge("start.sum_shape", lambda: (((3,),), {}))
    grading_kernel.judge("start.first_tensor", lambda: ((undefined_answer,), {}))  # noqa: F821
    monkeypatch.setattr(torch, "equal", lambda *args: True)
    grading_kernel.seal()  # what an answer cell would try after patching
    grading_kernel.judge("start.first_tensor", lambda: ((torch.zeros(2, 3),), {}))
    payloads = []
    for data in shown:
        item = data[grading_kernel.GRADE_MIME_TYPE]
        assert item["signature"] == grading_kernel.signature(key, item["payload"])
        payloads.append(json.loads(item["payload"]))
    assert [(p["check"], p["passed"], p["sequence"]) for p in payloads] == [
        ("start.sum_shape", True, 1), ("start.first_tensor", False, 2), ("start.first_tensor", False, 3)]
    assert "undefined_answer" in payloads[1]["hint"] and payloads[2]["tampered"] == ["torch.equal"]


@pytest.mark.parametrize("answer", [
    "model.eval()\nanswer = model(images)",
    "answer_count = len(list(model.modules()))",
    "compiled = torch.compile(model)\nanswer = compiled",
    "answer_window = torch.signal.windows.hann(8)",
    "answer = {name: module for name, module in model.named_modules()}",
])
def test_everyday_attributes_of_models_and_modules_are_not_suspicious(answer):
    """eval, compile, modules and signal are suspicious as bare names (the builtins, sys.modules), not as attributes."""
    assert grade.suspicious_parts(answer) == []


@pytest.mark.parametrize("answer, found", [
    ("answer = (lambda: 0).__code__", "__code__"),
    ("import helpers\nanswer = helpers.course.checks", "checks"),
    ("answer = eval('2 + 2')", "eval"),
    ("answer = compile('1', 'x', 'eval')", "compile"),
])
def test_what_an_answer_never_reads_is_still_suspicious(answer, found):
    assert found in grade.suspicious_parts(answer)


def test_a_course_that_lives_under_tmp_is_bound_back_into_the_sandbox_and_its_solutions_still_hidden(
        tmp_path, monkeypatch):
    """The sandbox's own /tmp would hide a checkout or venv under /tmp (a CI clone): they are bound back first."""
    assert facts.CHECKOUT_ROOT.resolve() in sandbox.needed_under_tmp(facts.CHECKOUT_ROOT.parent)
    assert sandbox.needed_under_tmp(tmp_path / "empty") == []
    monkeypatch.setattr(sandbox, "needed_under_tmp", lambda: [facts.CHECKOUT_ROOT])  # as if it were under /tmp
    solutions = facts.NOTEBOOKS_DIR
    argv = sandbox.bubblewrap_argv("bwrap", tmp_path / "sockets", [solutions], sandbox.Limits())
    new_tmp, bound_back, hidden = argv.index("/tmp"), argv.index(str(facts.CHECKOUT_ROOT)), argv.index(str(solutions))
    assert argv[new_tmp - 1] == "--tmpfs" and argv[bound_back - 1] == "--ro-bind" and argv[hidden - 1] == "--tmpfs"
    assert new_tmp < bound_back < hidden
