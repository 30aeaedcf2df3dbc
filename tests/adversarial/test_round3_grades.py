"""Round 3 (issue 30 item 4): ``grade --out`` keeps a manifest, so a regrade never replaces a file an instructor
wrote or changed, never trusts a grade it did not keep, and never writes through a planted link.

Every refusal here comes before any submission is run, so these tests start no kernel.
"""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from hostile import DAMAGED_NOTEBOOKS, assert_clear_refusal

from helpers.course import facts
from helpers.tools import grade, gradebook
from helpers.tools.gradebook import NotebookGrade
from helpers.tools.manifest import ForeignFileError, OutputFolder

NOTEBOOK = "00_start_here.ipynb"


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "submissions" / "alice"
    folder.mkdir(parents=True)
    shutil.copy(facts.CHECKOUT_ROOT / "student" / NOTEBOOK, folder / NOTEBOOK)
    return folder.parent


def a_grade(student="alice", points=1.0):
    rows = [{"student": student, "notebook": NOTEBOOK, "exercise": "00/x", "check": "start.x", "points": points,
             "possible": 1.0, "passed": points == 1.0, "hint": "", "flag": ""}]
    return NotebookGrade(student, NOTEBOOK, rows)


def an_earlier_grading(folder, kept=True):
    """What an earlier ``grade`` left: its gradebooks, report, feedback and kept grade, all in its manifest."""
    out = OutputFolder(folder, "grade")
    gradebook.write_gradebooks(out, [a_grade()], ["00/x"])
    gradebook.write_class_report(out, [a_grade()], ["00/x"], [], "no sandbox", [])
    gradebook.write_feedback(out, a_grade())
    if kept:
        gradebook.keep_grade(out, a_grade(points=0.0))
    return out


def files_under(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("edited", ["gradebook.csv", "grades_long.csv", "report.html",
                                    f"feedback/alice/{Path(NOTEBOOK).stem}.html"])
def test_a_grades_file_edited_by_hand_is_never_replaced_by_the_next_grading(cli, submissions, tmp_path, edited):
    grades = tmp_path / "grades"
    an_earlier_grading(grades)
    (grades / edited).write_text("alice,1.0,curved up by hand\n")
    before = files_under(grades)
    assert_clear_refusal(*cli(["grade", submissions, "--out", grades]), edited.split("/")[-1], "changed")
    assert files_under(grades) == before


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("planted", ["report.html", f"executed/alice/{NOTEBOOK}",
                                     f"feedback/alice/{Path(NOTEBOOK).stem}.html"])
@pytest.mark.parametrize("as_link", [False, True], ids=["file", "link"])
def test_a_file_or_link_planted_where_grade_writes_is_refused_before_grading(cli, submissions, tmp_path, planted,
                                                                            as_link):
    grades = tmp_path / "grades"
    an_earlier_grading(grades)
    target = grades / planted
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the course's")
    if as_link:
        target.symlink_to(elsewhere)
    else:
        target.write_text("not the course's")
    assert_clear_refusal(*cli(["grade", submissions, "--out", grades]), "Choose another --out")
    assert elsewhere.read_text() == "not the course's"
    assert target.is_symlink() == as_link and target.read_text() == "not the course's"


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("how", ["planted", "edited"])
def test_a_kept_grade_that_grade_did_not_write_is_not_reused(submissions, tmp_path, how):
    grades = tmp_path / "grades"
    an_earlier_grading(grades, kept=how == "edited")
    submission = grade.Submission("alice", NOTEBOOK, submissions / "alice" / NOTEBOOK)
    key = grade.submission_key(submission, grade.course_notebook(facts.NOTEBOOKS_DIR / NOTEBOOK), "smoke",
                               grade.DEFAULT_LIMITS)
    forged = a_grade(points=1.0)
    forged.key = key  # the right key: only the manifest tells it from one grade kept
    kept = grades / gradebook.kept_grade_name("alice", NOTEBOOK)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(dataclasses.asdict(forged)))
    assert gradebook.load_kept_grade(OutputFolder(grades, "grade"), "alice", NOTEBOOK, key) is None


@pytest.mark.attack("data loss")
def test_the_gradebook_writers_themselves_never_replace_a_file_they_did_not_write(tmp_path):
    (tmp_path / "gradebook.csv").write_text("my own marks")
    with pytest.raises(ForeignFileError, match=r"gradebook\.csv"):
        gradebook.write_gradebooks(OutputFolder(tmp_path, "grade"), [a_grade()], ["00/x"])
    assert (tmp_path / "gradebook.csv").read_text() == "my own marks"


def test_a_regrade_over_its_own_files_is_allowed(submissions, tmp_path):
    grades = tmp_path / "grades"
    out = an_earlier_grading(grades)
    (grades / "notes.txt").write_text("the instructor's own notes")
    grade.check_grades_folder(out, submissions)
    grade.check_grades_outputs(out, [grade.Submission("alice", NOTEBOOK, submissions / "alice" / NOTEBOOK)])
    assert (grades / "notes.txt").read_text() == "the instructor's own notes"


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("damage", sorted(DAMAGED_NOTEBOOKS))
def test_a_damaged_submission_is_skipped_with_advice_and_the_others_graded(submissions, damage):
    (submissions / "bob").mkdir()
    (submissions / "bob" / NOTEBOOK).write_bytes(DAMAGED_NOTEBOOKS[damage])
    found, problems = grade.find_submissions(submissions, [NOTEBOOK])
    assert [submission.student for submission in found] == ["alice"]
    assert len(problems) == 1 and problems[0].startswith(f"bob/{NOTEBOOK}: not a readable notebook")
    assert "download it again" in problems[0]
