"""The grid report charts what the knobs change, and only that: a figure constant by design gets no plot."""

from helpers.tools.report import comparison_rows, numeric_figures, report_html, report_markdown, write_report
from helpers.tools.runner import NotebookRun


def grid_runs(tmp_path):
    """Four runs of one notebook over SEED: the loss follows the seed, the data set's size is fixed."""
    runs = []
    for seed in range(4):
        output = tmp_path / f"06_seed{seed}.ipynb"
        output.write_text("{}")
        runs.append(NotebookRun("06_the_training_loop.ipynb", str(output), {"SEED": seed}, True, 1.0,
                                records={"final_loss": 0.5 + 0.1 * seed, "training_images": 96,
                                         "converged": True}))
    return runs


def test_only_figures_that_differ_are_charted_but_the_table_keeps_every_number(tmp_path):
    runs = grid_runs(tmp_path)
    assert numeric_figures(runs) == ["final_loss"]
    header, rows = comparison_rows(runs)
    assert header == ["SEED", "status", "final_loss", "training_images"]
    assert {row[-1] for row in rows} == {"96"}


def test_the_written_report_has_no_plot_of_a_constant_figure(tmp_path):
    runs = grid_runs(tmp_path)
    markdown = write_report(runs, tmp_path, "grid").read_text(encoding="utf-8")
    assert sorted(path.name for path in tmp_path.glob("plot_*.png")) == ["plot_06_the_training_loop_final_loss.png"]
    assert "![final_loss]" in markdown and "![training_images]" not in markdown
    assert report_html(runs, "grid", tmp_path).count("<img ") == 1
    assert "training_images" in report_markdown(runs, "grid")  # still in the table
