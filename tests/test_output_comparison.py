"""helpers.tools.smoke_runs without a kernel: how a lesson and its student edition share one notebook,
and which output changes the comparison with committed outputs catches (nbval's rules)."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.tools.smoke_runs import combined_notebook, compared_by_nbval, first_differing_cell, output_differences
from helpers.tools.student_edition import student_notebook


def lesson_notebook():
    parameters = new_code_cell("PRESET = None", metadata={"tags": ["parameters"]})
    lesson = new_code_cell("x = 2")
    solution = new_code_cell("answer_x = x * 3", metadata={"tags": ["solution"]})
    check = new_code_cell("print(answer_x == 6)")
    return new_notebook(cells=[parameters, lesson, new_markdown_cell("## Exercises"), solution, check],
                        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})


def test_the_shared_cells_end_at_the_first_solution():
    lesson = lesson_notebook()
    assert first_differing_cell(lesson, student_notebook(lesson, "99_lesson.ipynb")) == 3
    assert first_differing_cell(lesson, lesson) == len(lesson.cells)
    shorter = new_notebook(cells=lesson.cells[:2])
    with pytest.raises(ValueError, match="student edition has 2 cells"):
        first_differing_cell(lesson, shorter)


def test_one_notebook_runs_the_shared_cells_then_the_student_cells_then_the_lesson_cells():
    lesson = lesson_notebook()
    student = student_notebook(lesson, "99_lesson.ipynb")
    combined, student_start, lesson_start = combined_notebook(lesson, student, {"PRESET": "smoke"})
    sources = [cell.source for cell in combined.cells]
    assert sources[:student_start] == ["PRESET = None", "# Parameters\nPRESET = \"smoke\"\n", "x = 2",
                                       "## Exercises"]
    assert sources[student_start] == student.cells[3].source
    assert sources[lesson_start:] == ["answer_x = x * 3", "print(answer_x == 6)"]
    assert sources[student_start + 1] == sources[lesson_start + 1]
    ids = [cell.id for cell in combined.cells]
    assert len(ids) == len(set(ids)), "cell ids must stay unique"
    assert nbformat.validate(combined) is None


def executed(outputs, source="# NBVAL_CHECK_OUTPUT\nprint(x.shape)", tags=()):
    cell = new_code_cell(source, execution_count=1, outputs=outputs, metadata={"tags": list(tags)})
    cell.id = "compared"
    return new_notebook(cells=[cell])


def stream(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def test_a_changed_printed_value_is_caught_and_shown():
    differences = output_differences(executed([stream("torch.Size([2, 3])\n")]),
                                     executed([stream("torch.Size([3, 2])\n")]))
    assert len(differences) == 1
    assert "-torch.Size([2, 3])" in differences[0] and "+torch.Size([3, 2])" in differences[0]


def test_missing_extra_and_unrun_outputs_are_caught():
    committed = executed([stream("a\n")])
    assert output_differences(committed, executed([]))
    assert output_differences(committed, executed([stream("a\n"), stream("warning\n", name="stderr")]))
    result = new_output("execute_result", data={"text/plain": "3"}, execution_count=1)
    assert output_differences(executed([result]), executed([stream("3\n")]))
    unrun = executed([])
    unrun.cells[0].execution_count = None
    assert "did not run" in output_differences(committed, unrun)[0]


def test_what_nbval_ignores_is_ignored_and_only_marked_cells_are_compared():
    committed = executed([stream("a"), stream("b\n"), new_output("display_data", data={"image/png": "AAAA"})])
    same = executed([stream("ab\n"), new_output("display_data", data={"image/png": "BBBB"})])  # streams merged
    assert output_differences(committed, same) == []
    tagged = executed([stream("a\n")], source="print(x.shape)", tags=["nbval-check-output"])
    assert compared_by_nbval(tagged.cells[0]) and output_differences(tagged, executed([stream("b\n")]))
    unmarked = executed([stream("a\n")], source="print(x.shape)")
    assert not compared_by_nbval(unmarked.cells[0]) and output_differences(unmarked, executed([])) == []
