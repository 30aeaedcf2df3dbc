"""Round 3 (issue 30): --out folders holding a learner's files, IPython magics, namesake inputs, failing
notebooks in execute and release, and a batch that shares its checkpoints (issue 27 item 6)."""

import subprocess
from pathlib import Path

import nbformat
import pytest
from hostile import assert_clear_refusal, write_tiny_notebook

from helpers.course import facts
from helpers.tools import cli as cli_module


def files_under(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("learner_file", ["report.html", "plot_tiny_score.png", "plot_mine.png"])
def test_a_run_never_overwrites_a_report_file_it_did_not_write(cli, tiny_notebook, tmp_path, learner_file):
    out = tmp_path / "out"
    out.mkdir()
    (out / learner_file).write_bytes(b"my own work")
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", out]), "Choose another --out")
    assert files_under(out) == {Path(learner_file): b"my own work"}


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("folder", ["checkpoints", "checkpoints/batch", "tiny_checkpoints"])
def test_a_run_never_adopts_a_checkpoint_folder_it_did_not_make(cli, tiny_notebook, tmp_path, monkeypatch, folder):
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    out = tmp_path / "out"
    (out / folder).mkdir(parents=True)
    (out / folder / "epoch_0005.pt").write_bytes(b"someone else's training")
    status, stdout, err = cli(["run", tiny_notebook, "--out", out])
    if folder == "tiny_checkpoints":  # the name earlier versions used: never touched now
        assert status == 0, stdout + err
    else:
        assert_clear_refusal(status, stdout, err, "Choose another --out")
    assert (out / folder / "epoch_0005.pt").read_bytes() == b"someone else's training"


@pytest.mark.attack("data loss")
def test_a_planted_link_in_place_of_an_output_is_refused_and_its_target_kept(cli, tiny_notebook, tmp_path):
    victim = tmp_path / "thesis.tex"
    victim.write_text("three years of work")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").symlink_to(victim)
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", out]), "Choose another --out")
    assert victim.read_text() == "three years of work"


@pytest.mark.slow
def test_a_second_run_replaces_only_its_own_files_and_keeps_the_learners(cli, tiny_notebook, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    out = tmp_path / "out"
    assert cli(["run", tiny_notebook, "--out", out])[0] == 0
    (out / "notes.txt").write_text("mine")
    status, stdout, err = cli(["run", tiny_notebook, "--out", out])
    assert status == 0, stdout + err
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == [".pytorch-course-manifest.json", "checkpoints", "notes.txt",
                                                      "report.html", "report.md", "tiny.ipynb"]


def test_a_staging_folder_of_a_killed_run_is_removed_and_a_live_ones_kept(tmp_path):
    from helpers.safe_files import remove_stale_temporaries

    dead, live = tmp_path / f".staging-{2**22 + 7}-abc", tmp_path / f".staging-{__import__('os').getppid()}-abc"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "0000.ipynb").write_text("{}")
    assert remove_stale_temporaries(tmp_path, cli_module.RUN_STAGING) == [dead]
    assert live.is_dir()


PARAMETER_CELLS_WITH_MAGICS = ["%matplotlib inline\nPRESET = None\nSTEPS = 1\nTAG = 'x'",
                               "%load_ext autoreload\n%autoreload 2\nPRESET = None\nSTEPS = 1\nTAG = 'x'",
                               "!echo hi\nPRESET = None\nSTEPS = 1\nTAG = 'x'"]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("parameters", PARAMETER_CELLS_WITH_MAGICS)
def test_magics_in_a_parameters_cell_are_read_as_ipython(tmp_path, parameters):
    from helpers.tools.runner import plan_tasks

    notebook = write_tiny_notebook(tmp_path / "magic.ipynb", parameters=parameters)
    tasks = plan_tasks([notebook], tmp_path / "out", {"PRESET": "smoke"}, {"STEPS": [1, 2]})
    assert [task.parameters["STEPS"] for task in tasks] == [1, 2]


@pytest.mark.attack("raw traceback")
def test_a_parameters_cell_that_is_not_python_is_named(cli, tmp_path):
    notebook = write_tiny_notebook(tmp_path / "broken.ipynb", parameters="PRESET = None\nSTEPS = (1,")
    assert_clear_refusal(*cli(["run", notebook, "--out", tmp_path / "out"]), "parameters cell of broken.ipynb")


def notebook_with_solution(path, solution):
    cells = [nbformat.v4.new_code_cell(solution), nbformat.v4.new_code_cell("check(answer_value)")]
    cells[0].metadata["tags"] = ["solution"]
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(notebook, path)
    return path


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("solution, stub_names", [
    ("%time answer_value = 2 + 2", ["answer_value"]),
    ("%%time\nanswer_value = sum(range(4))", ["answer_value"]),
    ("%%capture output\nanswer_value = 4\nprint(answer_value)", ["answer_value"]),
    ("!ls\nanswer_value = 4", ["answer_value"]),
    ("answer_value = 4\n%timeit -n 1 answer_value + 1", ["answer_value"]),
])
def test_magics_in_a_solution_cell_still_give_a_stub(cli, tmp_path, solution, stub_names):
    notebook = notebook_with_solution(tmp_path / "magic.ipynb", solution)
    status, out, err = cli(["student-edition", notebook, "--out", tmp_path / "student"])
    assert status == 0, out + err
    stub = nbformat.read(tmp_path / "student" / "magic.ipynb", as_version=4).cells[0].source
    assert [line.split(" = ")[0] for line in stub.splitlines()[1:]] == stub_names
    assert "%" not in stub and "!" not in stub


@pytest.mark.attack("data loss")
def test_a_notebook_that_cannot_be_made_leaves_no_half_edition(cli, tmp_path):
    first = notebook_with_solution(tmp_path / "a_good.ipynb", "answer_value = 4")
    second = notebook_with_solution(tmp_path / "b_broken.ipynb", "answer_value = (4,")
    out = tmp_path / "student"
    assert_clear_refusal(*cli(["student-edition", first, second, "--out", out]), "b_broken.ipynb")
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.attack("wrong answer")
@pytest.mark.parametrize("second_name", ["same.ipynb", "SAME.ipynb"])
def test_two_inputs_of_one_name_are_refused(cli, tmp_path, second_name):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = notebook_with_solution(tmp_path / "a" / "same.ipynb", "answer_value = 1")
    second = notebook_with_solution(tmp_path / "b" / second_name, "answer_value = 2")
    assert_clear_refusal(*cli(["student-edition", first, second, "--out", tmp_path / "student"]), "same name")
    assert not (tmp_path / "student").exists()


@pytest.mark.attack("data loss")
def test_the_student_edition_never_writes_through_a_planted_temporary_link(cli, tmp_path, tiny_notebook):
    out = tmp_path / "student"
    assert cli(["student-edition", tiny_notebook, "--out", out])[0] == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (out / ".tiny.ipynb.tmp").symlink_to(victim)
    assert cli(["student-edition", tiny_notebook, "--out", out])[0] == 0
    assert victim.read_text() == "mine"


def failing_notebook(path):
    return write_tiny_notebook(path, body="values = [1, 2]\nvalues[5]")


@pytest.mark.slow
@pytest.mark.attack("raw traceback")
def test_execute_names_the_failing_notebook_and_cell_and_exits_1(cli, tmp_path, monkeypatch):
    notebook = failing_notebook(tmp_path / "broken.ipynb")
    before = notebook.read_bytes()
    monkeypatch.setattr(facts, "NOTEBOOKS_DIR", tmp_path)
    status, _, err = cli(["execute", notebook, "--preset", "smoke"])
    assert status == 1 and "Traceback" not in err and "bug" not in err
    assert "broken.ipynb failed in cell 2 (`values = [1, 2]`): IndexError" in err
    assert notebook.read_bytes() == before


def git(root, *arguments):
    return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    (tmp_path / "notebooks").mkdir()
    write_tiny_notebook(tmp_path / "notebooks" / "00_tiny.ipynb")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "maintainer@example.org")
    git(tmp_path, "config", "user.name", "Maintainer")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "--quiet", "-m", "course")
    return tmp_path


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("failure", [KeyboardInterrupt, "notebook fails"])
def test_a_release_that_fails_or_is_killed_leaves_the_checkout_as_it_was_and_can_be_retried(checkout, failure):
    from helpers.tools.release import ReleaseError, release

    def execute(root):
        if failure == "notebook fails":
            raise ReleaseError("re-executing the notebooks failed")
        raise failure()

    head, files = git(checkout, "rev-parse", "HEAD"), files_under(checkout / "notebooks")
    with pytest.raises((ReleaseError, KeyboardInterrupt)):
        release("0.2.0", checkout, execute)
    assert git(checkout, "status", "--porcelain") == "" and git(checkout, "tag", "--list") == ""
    assert git(checkout, "rev-parse", "HEAD") == head and files_under(checkout / "notebooks") == files
    assert '"0.1.0"' in (checkout / "helpers" / "__init__.py").read_text()
    assert release("0.2.0", checkout, lambda root: None) == "v0.2.0"  # the retry is not refused
    assert '"0.2.0"' in (checkout / "helpers" / "__init__.py").read_text()


@pytest.mark.attack("raw traceback")
def test_a_release_whose_notebooks_fail_is_one_clear_error(cli, checkout, monkeypatch):
    from helpers.tools import release as release_module

    monkeypatch.setattr(facts, "CHECKOUT_ROOT", checkout)
    monkeypatch.setattr(release_module.subprocess, "run", fake_failing_execute(release_module.subprocess.run))
    status, out, err = cli(["release", "0.2.0"])
    assert_clear_refusal(status, out, err, "Nothing changed in your checkout")
    assert status == 1  # a failing notebook, as execute reports it
    assert git(checkout, "status", "--porcelain") == ""


def fake_failing_execute(real_run):
    def run(command, *args, **kwargs):
        if command[1:4] == ["-m", "helpers", "execute"]:
            return subprocess.CompletedProcess(command, 1)
        return real_run(command, *args, **kwargs)

    return run


def test_a_batch_shares_one_checkpoint_folder_and_a_grid_point_gets_its_own(tmp_path):
    from helpers.tools.runner import plan_tasks

    folder = tmp_path / "nb"
    folder.mkdir()
    trains = write_tiny_notebook(folder / "08_train.ipynb", parameters="PRESET = None\nSEED = 0")
    loads = write_tiny_notebook(folder / "09_load.ipynb", parameters="PRESET = None\nSEED = 0")
    plain = write_tiny_notebook(folder / "10_plain.ipynb", parameters="PRESET = None")
    out = tmp_path / "out"
    batch = plan_tasks([trains, loads, plain], out, {"PRESET": "class"}, {})
    assert {task.checkpoints for task in batch} == {out / "checkpoints" / "batch"}
    grid = plan_tasks([trains, loads, plain], out, {"PRESET": "class"}, {"SEED": [0, 1]})
    by_seed = {}
    for task in grid:
        by_seed.setdefault(task.parameters.get("SEED"), set()).add(task.checkpoints)
    assert by_seed == {0: {out / "checkpoints" / "SEED=0"}, 1: {out / "checkpoints" / "SEED=1"},
                       None: {out / "checkpoints" / "batch"}}


@pytest.mark.slow
def test_a_later_notebook_of_a_batch_finds_what_an_earlier_one_saved(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    folder = tmp_path / "nb"
    folder.mkdir()
    saves = ("import os, pathlib\nfolder = pathlib.Path(os.environ['COURSE_CHECKPOINT_DIR'])\n"
             "(folder / 'handoff.pt').write_text(str(SEED))")
    loads = ("import os, pathlib\nfolder = pathlib.Path(os.environ['COURSE_CHECKPOINT_DIR'])\n"
             "assert (folder / 'handoff.pt').read_text() == str(SEED), 'trained again'")
    first = write_tiny_notebook(folder / "08_train.ipynb", parameters="PRESET = None\nSEED = 0", body=saves)
    second = write_tiny_notebook(folder / "09_load.ipynb", parameters="PRESET = None\nSEED = 0", body=loads)
    status, out, err = cli(["run", first, second, "--out", tmp_path / "out", "-p", "SEED", "3"])
    assert status == 0, out + err
    assert (tmp_path / "out" / "checkpoints" / "batch" / "handoff.pt").read_text() == "3"


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("answer", ["answer_value = 4", "# Your answer here: replace None, then run the check below.\n"
                                                        "answer_value = 2 + 2"])
def test_regenerating_an_edition_never_replaces_a_learners_answers(cli, tmp_path, answer):
    notebook = notebook_with_solution(tmp_path / "lesson.ipynb", "answer_value = 2 * 2")
    out = tmp_path / "student"
    assert cli(["student-edition", notebook, "--out", out])[0] == 0
    mine = nbformat.read(out / "lesson.ipynb", as_version=4)
    mine.cells[0].source = answer
    nbformat.write(mine, out / "lesson.ipynb")
    before = (out / "lesson.ipynb").read_bytes()
    assert_clear_refusal(*cli(["student-edition", notebook, "--out", out]), "answers")
    assert (out / "lesson.ipynb").read_bytes() == before


@pytest.mark.slow
@pytest.mark.attack("data loss")
@pytest.mark.parametrize("edited", ["tiny.ipynb", "report.html"])
def test_a_file_a_learner_changed_after_a_run_is_not_replaced_by_the_next(cli, tiny_notebook, tmp_path, monkeypatch,
                                                                          edited):
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    out = tmp_path / "out"
    assert cli(["run", tiny_notebook, "--out", out])[0] == 0
    if edited.endswith(".ipynb"):
        mine = nbformat.read(out / edited, as_version=4)
        mine.cells.append(nbformat.v4.new_markdown_cell("my notes on this run"))
        nbformat.write(mine, out / edited)
    else:
        (out / edited).write_text("<p>my annotated report</p>")
    before = (out / edited).read_bytes()
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", out, "-p", "STEPS", "2"]), "changed since")
    assert (out / edited).read_bytes() == before
