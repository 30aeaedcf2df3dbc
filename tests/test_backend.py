"""One backend for run and grade: local processes, or the same tasks on a Dask cluster (a LocalCluster here)."""

import csv
import sys

import nbformat
import pytest

from helpers.course import facts
from helpers.tools import backend, cli, grade
from helpers.tools.runner import plan_tasks, run_tasks
from helpers.tools.sandbox import Limits


def test_without_dask_the_cluster_option_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with (pytest.raises(backend.BackendError, match=r'pip install "\.\[cluster\]"'),
          backend.task_executor(cluster="tcp://127.0.0.1:1")):
        pass


def test_a_cluster_that_does_not_answer_is_one_clear_error(monkeypatch, capsys, tmp_path):
    pytest.importorskip("distributed")
    monkeypatch.setattr(backend, "CLUSTER_CONNECT_SECONDS", 2)
    notebook = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), notebook)
    status = cli.main(["run", str(notebook), "--out", str(tmp_path / "runs"), "--cluster", "tcp://127.0.0.1:9"])
    error = capsys.readouterr().err
    assert status == 2 and "no Dask scheduler answered at tcp://127.0.0.1:9" in error and "Traceback" not in error


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local, distributed.Client(local) as client:
        yield local.scheduler_address, client


def tiny_notebook(path, text):
    cells = [nbformat.v4.new_code_cell("TEXT = 'x'", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("import os\nprint(TEXT, os.getppid())")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


@pytest.mark.slow
def test_run_executes_the_same_tasks_on_a_dask_cluster(cluster, tmp_path):
    address, client = cluster
    notebooks = [tiny_notebook(tmp_path / f"0{number}_tiny.ipynb", str(number)) for number in (1, 2)]
    tasks = plan_tasks(notebooks, tmp_path / "runs", {}, {"TEXT": ["a", "b"]})
    runs = run_tasks(tasks, cluster=address)
    assert [run.passed for run in runs] == [True] * 4 and [run.output for run in runs] == [str(t.output) for t in tasks]
    parents = set()
    for task in tasks:
        text = nbformat.read(task.output, as_version=4).cells[-1].outputs[0]["text"]
        assert text.split()[0] == task.parameters["TEXT"]
        parents.add(int(text.split()[1]))
    import os

    assert parents <= set(client.run(os.getpid).values())  # the cluster's workers started the kernels


@pytest.mark.slow
def test_grade_runs_on_a_dask_cluster_with_the_same_grades(cluster, tmp_path):
    address, _ = cluster
    submissions = tmp_path / "submissions"
    for student, source in [("key", facts.NOTEBOOKS_DIR), ("blank", facts.STUDENT_DIR)]:
        (submissions / student).mkdir(parents=True)
        nbformat.write(nbformat.read(source / "00_start_here.ipynb", as_version=4),
                       submissions / student / "00_start_here.ipynb")
    result = grade.grade_class(submissions, tmp_path / "grades", cluster=address, limits=Limits(seconds=120),
                               progress=lambda line: None)
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "grades" / "gradebook.csv").open())}
    assert result.graded == 2 and not result.problems
    assert rows["key"]["total"] == "3.0" and rows["blank"]["total"] == "0.0"


def test_execute_on_a_cluster_that_does_not_answer_changes_no_notebook(monkeypatch, capsys):
    pytest.importorskip("distributed")
    monkeypatch.setattr(backend, "CLUSTER_CONNECT_SECONDS", 2)
    before = (facts.NOTEBOOKS_DIR / "00_start_here.ipynb").read_bytes()
    assert cli.main(["execute", "00", "--cluster", "tcp://127.0.0.1:9"]) == 2
    assert "no Dask scheduler answered" in capsys.readouterr().err
    assert (facts.NOTEBOOKS_DIR / "00_start_here.ipynb").read_bytes() == before


@pytest.mark.slow
def test_execute_on_a_cluster_runs_the_batch_in_place_sharing_one_checkpoint_folder(cluster, tmp_path, monkeypatch,
                                                                                     capsys):
    from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
    from helpers.tools.executor import STAMP_KEY

    address, client = cluster
    monkeypatch.setattr(facts, "NOTEBOOKS_DIR", tmp_path)  # execute takes only the course's own notebooks
    monkeypatch.delenv(CHECKPOINT_DIR_ENV_VAR, raising=False)
    folder = f"os.environ[{CHECKPOINT_DIR_ENV_VAR!r}]"
    first = tmp_path / "08_trains.ipynb"
    second = tmp_path / "09_loads.ipynb"
    for path, source in [(first, f"import os\nfrom pathlib import Path\nPath({folder}, 'model.txt').write_text("
                                 "'trained by 08')\nprint(os.getppid())"),
                         (second, f"import os\nfrom pathlib import Path\nprint(Path({folder}, 'model.txt')"
                                  ".read_text(), os.getppid())")]:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)], metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    assert cli.main(["execute", str(first), str(second), "--preset", "smoke", "--cluster", address]) == 0
    printed = capsys.readouterr().out
    assert "executed 08_trains.ipynb" in printed and "on the cluster" in printed
    executed = [nbformat.read(path, as_version=4) for path in (first, second)]
    assert all(notebook.metadata[STAMP_KEY]["preset"] == "smoke" for notebook in executed)
    first_parent = executed[0].cells[0].outputs[0]["text"].strip()
    loaded = executed[1].cells[0].outputs[0]["text"].strip()
    assert loaded.startswith("trained by 08 ")  # 09 read what 08 wrote into the batch's checkpoint folder
    parent = loaded.split()[-1]
    import os

    workers = {str(pid) for pid in client.run(os.getpid).values()}
    assert parent == first_parent and parent in workers  # one worker ran the whole batch, in order
