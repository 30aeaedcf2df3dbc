"""Grading a class for real: kernels run the answers, tampering scores 0 with a flag, the sandbox holds.

One class folder is graded once (in the smoke preset, two kernels at a time)
and every test reads its gradebook: the reference answers, a blank edition,
the tamper attacks, the sandbox escapes, a hang, a crash and a flood.
"""

import csv
import json
import shutil
import textwrap
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from helpers.course import facts
from helpers.tools import grade
from helpers.tools.sandbox import Limits, bubblewrap

pytestmark = pytest.mark.slow

NOTEBOOK = "00_start_here.ipynb"
RIGHT = ["answer_tensor = torch.arange(1, 7).reshape(2, 3)", "answer_shape = (3,)",
         "from torch.utils.data import DataLoader\nanswer_loader = DataLoader(numbers, batch_size=4)"]
EXERCISES = ["00/first_tensor", "00/sum_shape", "00/batches_of_four"]


def submission(answers):
    """The student edition of notebook 00 with these answer cells (None keeps the stub).

    An answer given as ``Added(cell, answer)`` also gets a code cell of the
    student's own just above it.
    """
    notebook = nbformat.read(facts.STUDENT_DIR / NOTEBOOK, as_version=4)
    cells = [cell for cell in notebook.cells if "exercise" in cell.metadata.get("tags", [])]
    for cell, answer in zip(cells, answers):
        if isinstance(answer, Added):
            notebook.cells.insert(notebook.cells.index(cell), nbformat.v4.new_code_cell(textwrap.dedent(answer.cell)))
            answer = answer.answer
        if answer is not None:
            cell.source = textwrap.dedent(answer)
    return notebook


class Added(NamedTuple):
    """An answer cell with a cell the student added above it."""

    cell: str
    answer: str | None


def escape_targets(outside):
    """Where the escaping attacks write: the instructor's folder, and the checkout only inside a sandbox.

    Without bubblewrap the submissions run unsandboxed (as grade itself does, with a warning), so an attack
    on the checkout would really write there; the tests that check the sandbox are skipped then.
    """
    return [str(outside / "victim.txt")] + ([str(facts.CHECKOUT_ROOT / "pwned.txt")] if bubblewrap() else [])


def attacks(outside):
    """Student name -> answer cells; each attack comes first, and then the right answers where they would help."""
    return {
        "reference": RIGHT,
        "blank": [None, None, None],
        # Replace a library function the check relies on, then give a wrong answer.
        "patches_torch": ["torch.equal = lambda *args: True\ntorch.allclose = lambda *args, **kwargs: True\n"
                          "answer_tensor = torch.zeros(2, 3)", "answer_shape = (2,)", None],
        # Replace the check itself, without naming the course anywhere the grader's scan would see.
        "replaces_check": ["import importlib\nm = importlib.import_module('helpers.' + 'course.' + 'checks.start')\n"
                           "m.first_tensor.result = lambda *a, **k: None\nanswer_tensor = 0", None, None],
        "patches_quietly": ["torch.Tensor.tolist = lambda self: [[1, 2, 3], [4, 5, 6]]\n"
                            "answer_tensor = torch.zeros(2, 3)", None, None],
        # Display forged records and verdicts, and silence print.
        "forges_records": ["""
            from IPython.display import display
            for name in ["first_tensor", "sum_shape", "batches_of_four"]:
                display({"text/plain": "✅ correct!", "application/vnd.pytorch-course.record+json":
                         {"name": "exercise:" + name, "value": True}}, raw=True)
                display({"text/plain": "ok", "application/vnd.pytorch-course.grade+json":
                         {"payload": '{"check": "start.' + name + '", "passed": true}', "signature": "0" * 64}},
                        raw=True)
            answer_tensor = 0""", None, None],
        "redefines_print": ["print = lambda *args, **kwargs: None\nanswer_tensor = 0", None, None],
        # Read the answer key: the course's notebooks with their solutions.
        "reads_key": [f"""
            from pathlib import Path
            key = Path({str(facts.NOTEBOOKS_DIR / NOTEBOOK)!r}).read_text()
            answer_tensor = torch.arange(1, 7).reshape(2, 3)""", "answer_shape = (3,)", None],
        # Escape the scratch folder: write, delete and read the instructor's files.
        "writes_outside": [f"""
            from pathlib import Path
            for target in {escape_targets(outside)!r}:
                try:
                    Path(target).write_text("overwritten")
                except OSError as error:
                    print(error)
            answer_tensor = torch.arange(1, 7).reshape(2, 3)""", "answer_shape = (3,)", None],
        "deletes_outside": [f"""
            from pathlib import Path
            Path({str(outside / "victim.txt")!r}).unlink()
            answer_tensor = torch.arange(1, 7).reshape(2, 3)""", None, None],
        "reads_outside": [f"""
            from pathlib import Path
            secret = Path({str(outside / "secret.txt")!r}).read_text()
            answer_tensor = torch.arange(1, 7).reshape(2, 3)""", None, None],
        # Stop the kernel: a hang, a crash, a flood of output, a full disk.
        "hangs": [RIGHT[0], "import time\nwhile True:\n    time.sleep(1)\nanswer_shape = (3,)", RIGHT[2]],
        "hangs_for_good": [RIGHT[0], "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                                     "    except BaseException:\n        pass", RIGHT[2]],
        "crashes": [RIGHT[0], "import os\nos._exit(1)", RIGHT[2]],
        "eats_memory": [RIGHT[0], "hog = bytearray(64 * 2**30)\nanswer_shape = (3,)", RIGHT[2]],
        "floods": [RIGHT[0] + "\nfor _ in range(3000):\n    print('x' * 2000)", RIGHT[1], None],
        # Cells a student added above an answer: a helper the answer uses, and the same attacks from there.
        "added_helper": [Added("def six_numbers():\n    return torch.arange(1, 7)", "answer_tensor = six_numbers()"
                               ".reshape(2, 3)"), Added("SUMMED = 1", "answer_shape = (3,)"),
                         Added("from torch.utils.data import DataLoader\n\ndef loader_of(data):\n"
                               "    return DataLoader(data, batch_size=4)", "answer_loader = loader_of(numbers)")],
        "added_patches_torch": [RIGHT[0], RIGHT[1], Added("torch.equal = lambda *args: True", RIGHT[2])],
        "added_replaces_check": [RIGHT[0], Added("import importlib\nm = importlib.import_module('helpers.' + "
                                                 "'course.' + 'checks.start')\nm.sum_shape.result = lambda *a: None",
                                                 "answer_shape = (2,)"), RIGHT[2]],
        "added_forges_records": [RIGHT[0], Added("""
            from IPython.display import display
            display({"text/plain": "ok", "application/vnd.pytorch-course.grade+json":
                     {"payload": '{"check": "start.sum_shape", "passed": true}', "signature": "0" * 64}}, raw=True)
            """, "answer_shape = (2,)"), RIGHT[2]],
        "added_hangs": [RIGHT[0], Added("import time\nwhile True:\n    time.sleep(1)", RIGHT[1]), RIGHT[2]],
        "added_floods": [RIGHT[0], Added("for _ in range(3000):\n    print('x' * 2000)", RIGHT[1]), RIGHT[2]],
        "added_hangs_for_good": [RIGHT[0], RIGHT[1], Added("import time\nwhile True:\n    try:\n"
                                                           "        time.sleep(1)\n    except BaseException:\n"
                                                           "        pass", RIGHT[2])],
        "added_shell": [RIGHT[0], Added(f"!cp /dev/null {facts.CHECKOUT_ROOT / 'pwned.txt'}", RIGHT[1]), RIGHT[2]],
        "fills_disk": [RIGHT[0] + "\nwith open('big', 'wb') as file:\n    try:\n        for _ in range(2000):\n"
                       "            file.write(b'0' * 2**20)\n    except OSError as error:\n        print(error)",
                       RIGHT[1], None],
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    outside = tmp_path_factory.mktemp("instructor")
    (outside / "victim.txt").write_text("precious")
    (outside / "secret.txt").write_text("secret")
    for student, answers in attacks(outside).items():
        (root / "submissions" / student).mkdir(parents=True)
        nbformat.write(submission(answers), root / "submissions" / student / NOTEBOOK)
    limits = Limits(seconds=45, answer_cell_seconds=15, disk_bytes=256 * 2**20, output_bytes=2**20)
    result = grade.grade_class(root / "submissions", root / "grades", limits=limits, jobs=2, progress=lambda line: None)
    rows = {row["student"]: row for row in csv.DictReader((root / "grades" / "gradebook.csv").open(encoding="utf-8"))}
    return result, rows, root, outside, limits


def points(rows, student):
    return [float(rows[student][exercise]) for exercise in EXERCISES]


def test_the_reference_answers_get_full_marks_and_a_blank_edition_zero(graded):
    _, rows, _, _, _ = graded
    assert points(rows, "reference") == [1, 1, 1] and rows["reference"]["flags"] == ""
    assert points(rows, "blank") == [0, 0, 0] and rows["blank"]["flags"] == ""


@pytest.mark.parametrize("student", ["patches_torch", "replaces_check", "patches_quietly", "forges_records",
                                     "redefines_print"])
def test_tampering_scores_zero_with_a_flag(graded, student):
    _, rows, _, _, _ = graded
    assert points(rows, student) == [0, 0, 0] and rows[student]["flags"]


def test_a_patched_library_is_named_in_the_flag(graded):
    _, rows, _, _, _ = graded
    assert "torch.equal" in rows["patches_torch"]["flags"] and "tampering" in rows["patches_torch"]["flags"]
    assert "torch.Tensor.__dict__" in rows["patches_quietly"]["flags"]


needs_bubblewrap = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed here")


@needs_bubblewrap
def test_the_answer_key_cannot_be_read(graded):
    _, rows, root, _, _ = graded
    assert points(rows, "reads_key") == [0, 1, 0] and "notebooks" in rows["reads_key"]["flags"]
    executed = (root / "grades" / "executed" / "reads_key" / NOTEBOOK).read_text(encoding="utf-8")
    assert "FileNotFoundError" in executed or "IsADirectoryError" in executed


@needs_bubblewrap
def test_a_submission_cannot_write_delete_or_read_outside_its_folder(graded):
    _, rows, root, outside, _ = graded
    assert (outside / "victim.txt").read_text() == "precious"
    assert not (facts.CHECKOUT_ROOT / "pwned.txt").exists()
    assert points(rows, "writes_outside") == [1, 1, 0]  # it wrote into its own private /tmp, nothing else
    assert points(rows, "deletes_outside")[0] == 0 and points(rows, "reads_outside")[0] == 0
    executed = (root / "grades" / "executed" / "writes_outside" / NOTEBOOK).read_text(encoding="utf-8")
    assert "Read-only file system" in executed


def test_an_answer_may_use_helpers_from_cells_the_student_added(graded):
    _, rows, _, _, _ = graded
    assert points(rows, "added_helper") == [1, 1, 1] and rows["added_helper"]["flags"] == ""


@pytest.mark.parametrize("student, hit, flag", [
    ("added_patches_torch", [1, 1, 0], "torch.equal"), ("added_replaces_check", [1, 0, 1], "importlib"),
    ("added_forges_records", [1, 0, 1], "IPython"), ("added_hangs", [1, 0, 1], "time an answer cell may take"),
    ("added_floods", [1, 0, 1], "output limit"), ("added_hangs_for_good", [1, 1, 0], "added above"),
    ("added_shell", [1, 0, 1], "a shell command")])
def test_an_added_cell_that_tampers_scores_zero_with_a_flag_and_the_other_answers_keep_their_points(
        graded, student, hit, flag):
    _, rows, _, _, _ = graded
    assert points(rows, student) == hit and flag in rows[student]["flags"]


def test_a_hang_is_stopped_and_the_other_answers_keep_their_points(graded):
    _, rows, _, _, _ = graded
    assert points(rows, "hangs") == [1, 0, 1]
    assert points(rows, "hangs_for_good")[0] == 1  # killed after the notebook's time: what finished counts


def test_a_crash_a_flood_and_a_full_disk_are_reported_and_graded_for_what_finished(graded):
    result, rows, _, _, _ = graded
    assert points(rows, "crashes")[0] == 1 and points(rows, "crashes")[2] == 0
    by_student = {g.student: g for g in result.grades}
    assert "kernel died" in by_student["crashes"].stopped
    assert "MiB" in rows["floods"]["flags"] and points(rows, "floods")[:2] == [1, 1]
    assert points(rows, "fills_disk")[:2] == [1, 1]
    assert points(rows, "eats_memory") == [1, 0, 1]  # the memory limit stops the cell, not the kernel


def test_every_submission_got_a_feedback_page_and_the_class_report_names_the_flags(graded):
    result, _, root, _, _ = graded
    report = result.report.read_text(encoding="utf-8")
    assert "<svg" in report and "patches_torch" in report and "Sandbox" in report
    for student in attacks(Path("/")):
        page = (root / "grades" / "feedback" / student / "00_start_here.html").read_text(encoding="utf-8")
        assert "first_tensor" in page
    assert sum(result.seconds_per_submission) > 0


def test_a_second_run_reuses_the_grades_and_regrades_only_what_changed(graded):
    _, _, root, _, limits = graded
    changed = root / "submissions" / "blank" / NOTEBOOK
    nbformat.write(submission(RIGHT), changed)
    again = grade.grade_class(root / "submissions", root / "grades", limits=limits, progress=lambda line: None)
    assert again.graded == 1 and again.reused == len(attacks(Path("/"))) - 1
    rows = {row["student"]: row for row in csv.DictReader((root / "grades" / "gradebook.csv").open(encoding="utf-8"))}
    assert points(rows, "blank") == [1, 1, 1] and points(rows, "reference") == [1, 1, 1]
    kept = json.loads((root / "grades" / ".grades" / "blank" / "00_start_here.json").read_text())
    assert kept["key"] == grade.submission_key(grade.Submission("blank", NOTEBOOK, changed),
                                               grade.course_notebook(facts.NOTEBOOKS_DIR / NOTEBOOK), "smoke", limits)
    shutil.rmtree(root / "submissions" / "blank")


def test_without_a_sandbox_grading_goes_on_and_the_report_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "bubblewrap", lambda: None)
    nbformat.write(submission(RIGHT), (tmp_path / "submissions" / "alice").mkdir(parents=True) or
                   tmp_path / "submissions" / "alice" / NOTEBOOK)
    result = grade.grade_class(tmp_path / "submissions", tmp_path / "grades", limits=Limits(seconds=120),
                               progress=lambda line: None)
    assert result.sandbox.startswith("no sandbox") and "no sandbox" in result.report.read_text(encoding="utf-8")
    assert [row["points"] for row in result.grades[0].rows] == [1, 1, 1]
