import ast

from helpers.course import facts


def test_notebooks_are_found_in_order():
    names = [path.name for path in facts.notebook_paths()]
    assert names[:2] == ["00_start_here.ipynb", "01_tensors_and_autograd.ipynb"]
    assert names == sorted(names)


def test_badges_point_at_the_notebook_in_the_repository():
    line = facts.badges_markdown("01_tensors_and_autograd.ipynb")
    expected = f"{facts.repository_slug()}/blob/{facts.BADGE_REF}/notebooks/01_tensors_and_autograd.ipynb"
    assert line.count(expected) == 2  # Colab and Kaggle
    assert "colab.research.google.com/github/" in line and "kaggle.com/kernels/welcome" in line


def test_setup_cell_is_valid_python_and_installs_at_the_pinned_ref():
    source = facts.setup_cell_source()
    ast.parse(source)
    assert f"@{facts.PINNED_REF}" in source
    assert facts.REPOSITORY_URL in source
    assert "check=True" in source  # a failed install stops the notebook loudly


def test_student_badges_open_the_student_edition_of_the_same_notebook():
    name = "03_datasets_and_loaders.ipynb"
    line = facts.student_badges_markdown(name)
    assert line.count(f"/blob/{facts.BADGE_REF}/{facts.STUDENT_FOLDER}/{name}") == 2
    assert "/notebooks/" not in line
    assert facts.open_badges(name, facts.STUDENT_FOLDER, " (student edition)") in facts.badges_markdown(name)
