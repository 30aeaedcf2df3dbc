"""Bad input to every command-line path: one clear message, a non-zero exit, no traceback, nothing run."""

import ast
from pathlib import Path

import pytest
from hostile import SENTINEL_NAME, assert_clear_refusal, write_tiny_notebook

from helpers.course import facts


@pytest.mark.parametrize("name", ["99", "13_missing", "0", "notebook.ipynb", "../../etc/passwd"])
def test_unknown_notebooks_are_named(cli, tmp_path, name):
    assert_clear_refusal(*cli(["run", name, "--out", tmp_path / "out"]), "no single course notebook")


@pytest.mark.parametrize("jobs", ["0", "-1", "-100", "100000", "two", "1.5", ""])
def test_jobs_outside_one_to_the_cap_are_refused(cli, tiny_notebook, tmp_path, jobs):
    status, out, err = cli(["run", tiny_notebook, "--out", tmp_path / "out", "--jobs", jobs])
    assert_clear_refusal(status, out, err, "--jobs")
    assert not (tmp_path / "out").exists()


GRID_FILES = {
    "invalid YAML": ("STEPS: [1, 2\n", "not valid YAML"),
    "a list": ("- 1\n- 2\n", "must map parameter names"),
    "a scalar": ("3\n", "must map parameter names"),
    "empty": ("", "is empty"),
    "only a comment": ("# nothing\n", "is empty"),
    "binary": (b"\xff\xfe\x00\x01", "not valid YAML"),
    "an empty axis": ("STEPS: []\n", "has no values"),
    "an unknown name": ("STPES: [1, 2]\n", "has no parameter STPES"),
    "an injected name": ("\"SEED = 0\\nopen('INJECTED_CODE_RAN', 'w').write('x')\\nX\": 1\n", "not a parameter name"),
    "a numeric name": ("1: 2\n", "not a parameter name"),
    "a keyword name": ("class: 2\n", "not a parameter name"),
    "a dotted name": ("os.path: 2\n", "not a parameter name"),
    "a date value": ("TAG: 2024-01-01\n", "not a plain literal"),
    "a NaN value": ("STEPS: .nan\n", "not a plain literal"),
    "an infinite value": ("STEPS: [1, .inf]\n", "not a plain literal"),
    "a set value": ("TAG: !!set {a: null}\n", "not a plain literal"),
    "a python object tag": ("TAG: !!python/object/apply:os.system ['touch INJECTED_CODE_RAN']\n", "not valid YAML"),
    "a mapping with an int key": ("TAG: {1: 2}\n", "not a plain literal"),
    "a billion laughs": ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "TAG: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "no parameter a"),
    "a billion laughs in one value": ("TAG: {a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], b: &b [*a, *a, *a, *a, *a, *a, *a, *a],"
                                      " c: &c [*b, *b, *b, *b, *b, *b, *b, *b], d: &d [*c, *c, *c, *c, *c, *c, *c, *c],"
                                      " e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n", "values at most"),
    "a grid too large to plan": ("STEPS: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nTAG: [a, b, c, d, e, f, g, h, i, j]\n"
                                 "PRESET: [smoke, class, full, smoke, class, full, smoke, class, full, smoke, class]\n",
                                 "at most 1,000"),
}


@pytest.mark.parametrize("case", GRID_FILES)
def test_bad_grid_files_are_refused_before_anything_runs(cli, tiny_notebook, tmp_path, monkeypatch, case):
    text, message = GRID_FILES[case]
    grid = tmp_path / "grid.yaml"
    grid.write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.chdir(tmp_path)
    status, out, err = cli(["run", tiny_notebook, "--out", tmp_path / "out", "--grid", grid])
    assert_clear_refusal(status, out, err, message)
    assert not (tmp_path / "out").exists() and not (tmp_path / SENTINEL_NAME).exists()
    assert not (tiny_notebook.parent / SENTINEL_NAME).exists()


@pytest.mark.parametrize("where", ["missing", "a folder"])
def test_a_grid_path_that_is_not_a_file_is_named(cli, tiny_notebook, tmp_path, where):
    grid = tmp_path / "grid.yaml"
    if where == "a folder":
        grid.mkdir()
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", tmp_path / "out", "--grid", grid]), str(grid))


INJECTED_NAMES = ["SEED = 0\nopen('INJECTED_CODE_RAN', 'w').write('x')\nX", "__import__('os').system('touch INJECTED_CODE_RAN')",
                  "X; open('INJECTED_CODE_RAN', 'w')", "1X", "import", "STEPS ", "", "St EPS", "steps", "PRESET\n"]


@pytest.mark.parametrize("name", INJECTED_NAMES)
def test_parameter_names_must_be_declared_identifiers(cli, tiny_notebook, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    status, out, err = cli(["run", tiny_notebook, "--out", tmp_path / "out", "-p", name, "3"])
    assert_clear_refusal(status, out, err, "parameter")
    assert not (tmp_path / SENTINEL_NAME).exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("values, message", [(["[1,"], "cannot read the value"), (["{a"], "cannot read the value"),
                                             (["2024-01-01"], "not a plain literal"), ([".nan"], "not a plain literal"),
                                             (["!!binary aGk="], "not a plain literal"), ([], "expected 2 arguments")])
def test_parameter_values_must_be_plain_literals(cli, tiny_notebook, tmp_path, values, message):
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", tmp_path / "out", "-p", "TAG", *values]), message)


def test_out_pointing_at_a_file_is_refused(cli, tiny_notebook, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", target]), "is a file")
    assert target.read_text() == "mine"


def test_out_pointing_at_the_notebooks_folder_is_refused(cli, tiny_notebook):
    before = tiny_notebook.read_bytes()
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", tiny_notebook.parent]), "overwrite")
    assert tiny_notebook.read_bytes() == before


def test_out_pointing_at_the_course_notebooks_is_refused(cli):
    before = {p.name: p.stat().st_mtime_ns for p in facts.notebook_paths()}
    assert_clear_refusal(*cli(["run", "00", "--out", facts.NOTEBOOKS_DIR]), "overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in facts.notebook_paths()} == before


@pytest.mark.parametrize("existing", ["tiny.ipynb", "report.md"])
def test_a_run_never_overwrites_files_it_did_not_write(cli, tiny_notebook, tmp_path, existing):
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_text("my own notes")
    assert_clear_refusal(*cli(["run", tiny_notebook, "--out", out]), "Choose another --out")
    assert (out / existing).read_text() == "my own notes"


@pytest.mark.parametrize("argv", [["data", "synthetic", "--out", "{tmp}/x", "--per-class", "0"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--per-class", "-5"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--per-class", "ten"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--per-class", "1000000000"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--size", "-3"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--size", "0"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--size", "8"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--size", "100000"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--size", "64px"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--seed", "-1"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--seed", "0.5"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--workers", "0"],
                                  ["data", "synthetic", "--out", "{tmp}/x", "--workers", "100000"],
                                  ["data", "synthetic"],
                                  ["data", "imagenet", "--out", "{tmp}/x"],
                                  ["run", "--preset", "huge"],
                                  ["doctor", "--preset", "tiny"],
                                  ["frobnicate"],
                                  []])
def test_bad_options_are_refused_with_a_short_usage_error(cli, tmp_path, argv):
    status, out, err = cli([arg.format(tmp=tmp_path) for arg in argv])
    assert_clear_refusal(status, out, err)
    assert status == 2 and len(err.strip().splitlines()) <= 3
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("setup", ["thesis", "dot", "file", "learner image", "checkout-like"])
def test_synthetic_data_never_replaces_a_folder_it_did_not_make(cli, tmp_path, monkeypatch, setup):
    home = tmp_path / "home"
    target = home / "thesis"
    target.mkdir(parents=True)
    (target / "chapter1.tex").write_text("three years of work")
    out = target
    if setup == "dot":
        monkeypatch.chdir(target)
        out = Path(".")
    elif setup == "file":
        out = target / "chapter1.tex"
    elif setup == "learner image":
        (target / "chapter1.tex").unlink()
        (target / "Parasitized").mkdir()
        (target / "Parasitized" / "my_cell.png").write_bytes(b"\x89PNG mine")
        (target / "synthetic.json").write_text('{"per_class": 1, "seed": 0, "image_size": null, "version": 3}')
    elif setup == "checkout-like":
        (target / "pyproject.toml").write_text("[project]")
        (target / ".git").mkdir()
    before = sorted((p.relative_to(home), p.read_bytes() if p.is_file() else None) for p in home.rglob("*"))
    status, out_text, err = cli(["data", "synthetic", "--out", out, "--per-class", "2", "--size", "16"])
    assert_clear_refusal(status, out_text, err)
    assert sorted((p.relative_to(home), p.read_bytes() if p.is_file() else None) for p in home.rglob("*")) == before


@pytest.mark.parametrize("setup", ["course notebooks", "foreign notebook", "a file", "source folder"])
def test_student_edition_never_overwrites_notebooks_it_did_not_write(cli, tmp_path, tiny_notebook, setup):
    out = tmp_path / "student"
    sources = [tiny_notebook]
    if setup == "course notebooks":
        out, sources = facts.NOTEBOOKS_DIR, ["00"]
    elif setup == "foreign notebook":
        out.mkdir()
        write_tiny_notebook(out / "tiny.ipynb", body="print('my own work')")
    elif setup == "a file":
        out.write_text("mine")
    else:
        out = tiny_notebook.parent
    watched = [p for p in (list(out.glob("*.ipynb")) if out.is_dir() else [out])]
    before = {p: p.read_bytes() for p in watched}
    assert_clear_refusal(*cli(["student-edition", *sources, "--out", out]))
    assert {p: p.read_bytes() for p in watched} == before


def test_student_edition_may_rewrite_its_own_output(cli, tmp_path, tiny_notebook):
    out = tmp_path / "student"
    assert cli(["student-edition", tiny_notebook, "--out", out])[0] == 0
    assert cli(["student-edition", tiny_notebook, "--out", out])[0] == 0
    assert [p.name for p in out.iterdir()] == ["tiny.ipynb"]


@pytest.mark.parametrize("data_dir", ["a file", "below a file"])
def test_doctor_reports_a_bad_data_folder_instead_of_crashing(cli, tmp_path, monkeypatch, data_dir):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocker if data_dir == "a file" else blocker / "data"))
    status, out, err = cli(["doctor"])
    assert status == 1 and "Traceback" not in out + err
    assert "[FAIL] data folder" in out and "COURSE_DATA_DIR" in out
    assert out.count("\n") >= 8  # every check still printed its line


def test_execute_never_rewrites_a_notebook_outside_the_course(cli, tiny_notebook):
    before = tiny_notebook.read_bytes()
    assert_clear_refusal(*cli(["execute", tiny_notebook]), "only takes the course's own")
    assert tiny_notebook.read_bytes() == before


@pytest.mark.slow
def test_hostile_string_values_reach_the_notebook_as_plain_text(cli, tmp_path):
    import nbformat

    folder = tmp_path / "nb"
    folder.mkdir()
    notebook = write_tiny_notebook(folder / "echo.ipynb", body="print(repr(TAG))")
    values = ["x\"); open('INJECTED_CODE_RAN', 'w'); (\"", "a\\nimport os; os.system('touch INJECTED_CODE_RAN')",
              "x'''; open('INJECTED_CODE_RAN', 'w'); '''"]
    repeated = [argument for value in values for argument in ("-p", "TAG", value)]  # one run per value
    status, out, err = cli(["run", notebook, "--out", tmp_path / "out", *repeated])
    assert status == 0, out + err
    for executed in sorted((tmp_path / "out" / "echo").glob("*.ipynb")):
        printed = nbformat.read(executed, as_version=4).cells[-1].outputs[0]["text"].strip()
        values.remove(ast.literal_eval(printed))  # the repr the notebook printed is one of the values, unchanged
    assert values == []
    assert not (folder / SENTINEL_NAME).exists() and not (tmp_path / SENTINEL_NAME).exists()


@pytest.mark.slow
def test_a_notebook_without_a_parameters_cell_still_takes_the_preset(cli, tmp_path):
    import nbformat

    notebook = tmp_path / "plain.ipynb"
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('no parameters here')")])
    plain.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(plain, notebook)
    status, out, err = cli(["run", notebook, "--preset", "smoke", "--out", tmp_path / "out"])
    assert status == 0, out + err
    status, out, err = cli(["run", notebook, "--out", tmp_path / "out2", "-p", "EPOCHS", "3"])
    assert_clear_refusal(status, out, err, "declares none")


@pytest.mark.slow
def test_a_parameter_some_notebooks_lack_skips_them_and_does_not_multiply_their_runs(cli, tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    with_seed = write_tiny_notebook(folder / "a_seeded.ipynb", parameters="PRESET = None\nSEED = 0", body="print(SEED)")
    without = write_tiny_notebook(folder / "b_plain.ipynb", parameters="PRESET = None", body="print('plain')")
    status, out, err = cli(["run", with_seed, without, "--preset", "smoke", "--out", tmp_path / "out", "-p", "SEED", "1", "-p", "SEED", "2"])
    assert status == 0, out + err
    assert "b_plain.ipynb does not declare SEED" in out
    assert sorted(p.name for p in (tmp_path / "out" / "a_seeded").glob("*.ipynb")) == ["SEED=1.ipynb", "SEED=2.ipynb"]
    assert (tmp_path / "out" / "b_plain.ipynb").is_file()
