"""The headless runner: execute notebooks with papermill and write a report.

``python -m helpers run --preset class --out runs/class`` executes every
notebook into ``runs/class/`` and writes ``report.md`` and ``report.html``
beside them: status, duration and recorded figures per notebook, and the
failing cell when one failed.
"""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes, e.g. from IPython tracebacks."""
    return ANSI_ESCAPE.sub("", text)


@dataclass
class NotebookRun:
    """What happened when one notebook was executed."""

    notebook: str
    output: str
    parameters: dict[str, Any]
    passed: bool
    seconds: float
    records: dict[str, Any] = field(default_factory=dict)
    failed_cell: str = ""
    error: str = ""

    def failure_text(self) -> str:
        """Return the failing cell's source and the exception, as plain text."""
        return f"--- failing cell ---\n{self.failed_cell}\n--- error ---\n{self.error}"


def _error_of(exc: Exception) -> tuple[str, str]:
    """Return (failing cell source, plain-text error) for a papermill failure."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        trace = strip_ansi("\n".join(exc.traceback[-6:]))
        return exc.source, f"{exc.ename}: {strip_ansi(exc.evalue)}\n{trace}"
    return "", f"{type(exc).__name__}: {strip_ansi(str(exc))}"


def run_notebook(notebook: Path, output: Path, parameters: dict[str, Any],
                 progress_bar: bool = False) -> NotebookRun:
    """Execute ``notebook`` into ``output`` with papermill, in the notebook's folder.

    Never raises for a failing notebook: the failure is in the returned
    :class:`NotebookRun`, and the partly executed notebook is still written.
    """
    import nbformat
    import papermill

    from helpers.records import read_records

    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failed_cell, error = "", ""
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name="python3", cwd=str(notebook.parent),
                                   progress_bar=progress_bar, log_output=False)
    except Exception as exc:  # any failure is reported, never lost
        failed_cell, error = _error_of(exc)
    seconds = time.perf_counter() - started
    records = read_records(nbformat.read(output, as_version=4)) if output.exists() else {}
    return NotebookRun(notebook.name, str(output), parameters, passed=not error,
                       seconds=seconds, records=records, failed_cell=failed_cell, error=error)


def run_notebooks(notebooks: list[Path], out_dir: Path, parameters: dict[str, Any],
                  jobs: int = 1) -> list[NotebookRun]:
    """Execute notebooks (``jobs`` at a time) into ``out_dir``; return runs in input order."""
    tasks = [(nb, out_dir / nb.name, parameters) for nb in notebooks]
    if jobs <= 1:
        runs = []
        for nb, output, params in tqdm(tasks, desc="notebooks", unit="nb"):
            runs.append(run_notebook(nb, output, params, progress_bar=False))
        return runs
    results: dict[str, NotebookRun] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_notebook, *task) for task in tasks]
        for future in tqdm(as_completed(futures), total=len(futures), desc="notebooks", unit="nb"):
            run = future.result()
            results[run.output] = run
    return [results[str(output)] for _, output, _ in tasks]


def _figures_text(records: dict[str, Any]) -> str:
    return ", ".join(f"{name} = {value:.4g}" if isinstance(value, float) else f"{name} = {value}"
                     for name, value in records.items())


def report_markdown(runs: list[NotebookRun], title: str) -> str:
    """Return the run report as Markdown: one table row per notebook, then the failures."""
    passed = sum(run.passed for run in runs)
    lines = [f"# {title}", "", f"{passed} of {len(runs)} notebooks passed, "
             f"{sum(run.seconds for run in runs):.0f} s in all.", "",
             "| notebook | status | seconds | recorded figures |", "|---|---|---:|---|"]
    for run in runs:
        status = "passed" if run.passed else "**FAILED**"
        lines.append(f"| {run.notebook} | {status} | {run.seconds:.1f} | "
                     f"{_figures_text(run.records).replace('|', '/')} |")
    for run in runs:
        if not run.passed:
            lines += ["", f"## {run.notebook} failed", "", "```", run.failure_text(), "```"]
    return "\n".join(lines) + "\n"


def report_html(runs: list[NotebookRun], title: str) -> str:
    """Return the run report as a small standalone HTML page."""
    rows = "".join(
        f"<tr><td><a href='{html.escape(Path(run.output).name)}'>{html.escape(run.notebook)}</a></td>"
        f"<td class='{'ok' if run.passed else 'fail'}'>{'passed' if run.passed else 'FAILED'}</td>"
        f"<td>{run.seconds:.1f}</td><td>{html.escape(_figures_text(run.records))}</td></tr>"
        for run in runs
    )
    failures = "".join(
        f"<h2>{html.escape(run.notebook)} failed</h2><pre>{html.escape(run.failure_text())}</pre>"
        for run in runs if not run.passed
    )
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
             ".ok{color:#070}.fail{color:#b00;font-weight:bold}pre{background:#f6f6f6;padding:1em}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            "<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>recorded figures</th></tr>"
            f"{rows}</table>{failures}</body></html>\n")


def write_report(runs: list[NotebookRun], out_dir: Path, title: str) -> Path:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(report_html(runs, title), encoding="utf-8")
    markdown = out_dir / "report.md"
    markdown.write_text(report_markdown(runs, title), encoding="utf-8")
    return markdown
