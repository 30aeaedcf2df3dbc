import ast
import re

import nbformat

import helpers
from helpers.course import facts


def test_notebooks_are_found_in_order():
    names = [path.name for path in facts.notebook_paths()]
    assert names[:2] == ["00_start_here.ipynb", "01_tensors_and_autograd.ipynb"]
    assert names == sorted(names)


def test_badges_point_at_the_notebook_in_the_repository():
    line = facts.badges_markdown("01_tensors_and_autograd.ipynb")
    expected = f"{facts.repository_slug()}/blob/{facts.PINNED_REF}/notebooks/01_tensors_and_autograd.ipynb"
    assert line.count(expected) == 2  # Colab and Kaggle
    assert "colab.research.google.com/github/" in line and "kaggle.com/kernels/welcome" in line


def test_setup_cell_is_valid_ipython_and_installs_at_the_pinned_ref():
    from IPython.core.inputtransformer2 import TransformerManager

    source = facts.setup_cell_source()
    ast.parse(TransformerManager().transform_cell(source))  # its `!` line is IPython's
    assert f"@{facts.PINNED_REF}" in source
    assert facts.REPOSITORY_URL in source
    assert source.endswith(facts.SETUP_CALL)  # what a failed setup says is the package's (tests/test_setup_cell.py)


def test_badges_installs_and_the_backbone_use_the_version_tag_in_every_notebook():
    tag = f"v{helpers.__version__}"
    assert facts.PINNED_REF == tag
    for path in facts.notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in notebook.cells[:3])
        badge_refs = set(re.findall(r"/blob/([^/]+)/notebooks/" + re.escape(path.name), text))
        install_refs = set(re.findall(r"git\+" + re.escape(facts.REPOSITORY_URL) + r"@([^\"]+)\"", text))
        assert badge_refs == install_refs == {tag}, path.name


def test_figures_are_sharp_with_readable_labels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.course.environment import use_course_figure_style

    with matplotlib.rc_context():
        use_course_figure_style()
        figure, axes = plt.subplots()
        axes.plot([0, 1], [0, 1], label="loss")
        axes.set_xlabel("epoch")
        axes.legend()
        figure.savefig(tmp_path / "figure.png")
        sizes = [label.get_fontsize() for label in [axes.xaxis.label, *axes.get_xticklabels(),
                                                      *axes.legend_.get_texts()]]
        plt.close(figure)
    assert min(sizes) >= 10
    width = int.from_bytes((tmp_path / "figure.png").read_bytes()[16:20], "big")
    assert width == 5 * 110


def test_student_badges_open_the_student_edition_of_the_same_notebook():
    name = "03_datasets_and_loaders.ipynb"
    line = facts.student_badges_markdown(name)
    assert line.count(f"/blob/{facts.PINNED_REF}/{facts.STUDENT_FOLDER}/{name}") == 2
    assert "/notebooks/" not in line
    assert facts.open_badges(name, facts.STUDENT_FOLDER, " (student edition)") in facts.badges_markdown(name)


def test_the_readmes_lessons_table_opens_each_student_edition_and_names_the_one_with_solutions():
    readme = (facts.CHECKOUT_ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = readme[:readme.index("## The lessons")]
    assert all(way in first_screen for way in ("Colab", "JupyterLab", "instructors"))
    for path in facts.notebook_paths():
        [row] = [line for line in readme.splitlines() if line.startswith(f"| {path.name[:2]} |")]
        assert row.rstrip(" |").endswith(facts.open_badges(path.name, facts.STUDENT_FOLDER)), row
        assert f"](notebooks/{path.name})" in row
    assert "**with solutions**" in readme
    assert len(readme.split()) <= 1800
