"""The run report: Markdown and HTML, with a comparison across parameter combinations.

One table row per run (status, duration, recorded figures, the failing cell
when one failed). When a notebook ran with several parameter combinations, a
comparison table puts the varied parameters beside each numeric figure, and
one small plot per figure shows how it changes across the combinations.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from helpers.tools.manifest import OutputFolder
from helpers.tools.runner import UNSAFE_FILE_CHARACTERS, NotebookRun


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(item) for item in value) + "]"
    return str(value)


def figures_text(records: dict[str, Any]) -> str:
    """Return ``name = value`` pairs for the recorded figures, exercise verdicts left out."""
    return ", ".join(f"{name} = {_short(value)}" for name, value in records.items()
                     if not name.startswith("exercise:"))


def exercises_text(records: dict[str, Any]) -> str:
    """Return how many exercise checks passed, e.g. ``3/3``."""
    verdicts = [value for name, value in records.items() if name.startswith("exercise:")]
    return f"{sum(bool(v) for v in verdicts)}/{len(verdicts)}" if verdicts else "-"


def varied_parameters(runs: list[NotebookRun]) -> list[str]:
    """Return the parameter names whose values differ between runs."""
    names = sorted({name for run in runs for name in run.parameters})
    return [name for name in names if len({repr(run.parameters.get(name)) for run in runs}) > 1]


def comparisons(runs: list[NotebookRun]) -> dict[str, list[NotebookRun]]:
    """Return the runs of each notebook that ran with more than one parameter combination."""
    by_notebook: dict[str, list[NotebookRun]] = {}
    for run in runs:
        by_notebook.setdefault(run.notebook, []).append(run)
    return {name: group for name, group in by_notebook.items() if len(group) > 1}


def recorded_numbers(runs: list[NotebookRun]) -> list[str]:
    """Return the figures recorded as numbers (not booleans) by any of the runs, in first-seen order."""
    names: dict[str, None] = {}
    for run in runs:
        for name, value in run.records.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                names.setdefault(name, None)
    return list(names)


def numeric_figures(runs: list[NotebookRun]) -> list[str]:
    """Return the numeric figures worth a plot: those that differ between the runs.

    A figure constant by design (the size of a data set, a seed the notebook fixes)
    stays in the comparison table, but a flat line would only suggest the knobs do nothing.
    """
    return [name for name in recorded_numbers(runs)
            if len({repr(run.records.get(name)) for run in runs if name in run.records}) > 1]


def comparison_rows(group: list[NotebookRun]) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of one notebook's comparison table."""
    parameters, figures = varied_parameters(group), recorded_numbers(group)
    header = parameters + ["status"] + figures
    rows = [[_short(run.parameters.get(p)) for p in parameters] + ["passed" if run.passed else "FAILED"]
            + [_short(run.records.get(f, "")) for f in figures] for run in group]
    return header, rows


def figure_plot_png(group: list[NotebookRun], figure: str) -> bytes:
    """Return a small PNG plot of one figure across a notebook's parameter combinations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parameters = varied_parameters(group)
    labels = [",".join(f"{p}={_short(run.parameters.get(p))}" for p in parameters) for run in group]
    values = [run.records.get(figure, float("nan")) for run in group]
    fig, axes = plt.subplots(figsize=(max(3.5, 0.6 * len(group) + 1.5), 2.6), dpi=72)
    axes.plot(range(len(group)), values, marker="o")
    axes.set_xticks(range(len(group)), labels, rotation=30, ha="right", fontsize=7)
    axes.set_title(figure, fontsize=9)
    axes.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]


def report_markdown(runs: list[NotebookRun], title: str, plots: dict[str, str] | None = None) -> str:
    """Return the report as Markdown; ``plots`` maps a figure's key to its image file name."""
    passed = sum(run.passed for run in runs)
    skipped = sum(run.skipped for run in runs)
    lines = [f"# {title}", "", f"{passed} of {len(runs)} runs passed ({skipped} reused from an earlier run), "
             f"{sum(run.seconds for run in runs):.0f} s of notebook time.", ""]
    lines += _markdown_table(
        ["notebook", "parameters", "status", "seconds", "exercises", "recorded figures"],
        [[run.notebook, _short(run.parameters), "passed" if run.passed else "**FAILED**",
          f"{run.seconds:.1f}" + (" (reused)" if run.skipped else ""), exercises_text(run.records),
          figures_text(run.records)] for run in runs])
    for notebook, group in comparisons(runs).items():
        lines += ["", f"## {notebook}: comparison across {len(group)} combinations", ""]
        lines += _markdown_table(*comparison_rows(group))
        for figure in numeric_figures(group):
            if plots and f"{notebook}:{figure}" in plots:
                lines += ["", f"![{figure}]({plots[f'{notebook}:{figure}']})"]
    for run in runs:
        if not run.passed:
            lines += ["", f"## {run.notebook} {_short(run.parameters)} failed", "", "```", run.failure_text(), "```"]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def report_html(runs: list[NotebookRun], title: str, out_dir: Path) -> str:
    """Return the report as one standalone HTML page (plots embedded)."""
    rows = "".join(
        f"<tr><td><a href='{html.escape(str(Path(run.output).relative_to(out_dir)))}'>"
        f"{html.escape(run.notebook)}</a></td>"
        f"<td>{html.escape(_short(run.parameters))}</td>"
        f"<td class='{'ok' if run.passed else 'fail'}'>{'passed' if run.passed else 'FAILED'}</td>"
        f"<td>{run.seconds:.1f}{' (reused)' if run.skipped else ''}</td><td>{exercises_text(run.records)}</td>"
        f"<td>{html.escape(figures_text(run.records))}</td></tr>"
        for run in runs
    )
    sections = ""
    for notebook, group in comparisons(runs).items():
        images = "".join(
            f"<img alt='{html.escape(f)}' src='data:image/png;base64,"
            f"{base64.b64encode(figure_plot_png(group, f)).decode()}'>" for f in numeric_figures(group))
        sections += f"<h2>{html.escape(notebook)}: comparison</h2>{_html_table(*comparison_rows(group))}{images}"
    failures = "".join(
        f"<h2>{html.escape(run.notebook)} failed</h2><pre>{html.escape(run.failure_text())}</pre>"
        for run in runs if not run.passed)
    style = ("body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}.ok{color:#070}"
             ".fail{color:#b00;font-weight:bold}pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            "<table><tr><th>notebook</th><th>parameters</th><th>status</th><th>seconds</th>"
            f"<th>exercises</th><th>recorded figures</th></tr>{rows}</table>{sections}{failures}</body></html>\n")


def write_report(runs: list[NotebookRun], out_dir: Path, title: str, out: OutputFolder | None = None) -> Path:
    """Write ``report.md`` (with plot PNGs beside it) and ``report.html``; return the Markdown path.

    Each file is written atomically and recorded in the folder's manifest (``out``):
    a file of the same name that no course run made is never overwritten.
    """
    out = out or OutputFolder(out_dir, "run")
    plots: dict[str, str] = {}
    for notebook, group in comparisons(runs).items():
        for figure in numeric_figures(group):
            name = UNSAFE_FILE_CHARACTERS.sub("_", f"plot_{Path(notebook).stem}_{figure}") + ".png"
            out.write(name, figure_plot_png(group, figure))
            plots[f"{notebook}:{figure}"] = name
    out.write("report.html", report_html(runs, title, out_dir))
    return out.write("report.md", report_markdown(runs, title, plots))
