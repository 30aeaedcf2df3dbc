"""What ``grade`` writes: kept grades, the gradebook CSVs, a feedback page per submission, the class report.

Every file is written atomically through the grades folder's manifest
(:class:`helpers.tools.manifest.OutputFolder`), so a grading run killed half-way
leaves each file as it was or complete, and a file ``grade`` did not write (or
one the instructor changed by hand since, such as an edited ``gradebook.csv``) is
never replaced. Student names and hints are the students' own text:
they are escaped in HTML, and a CSV cell that a spreadsheet would run as a
formula gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.tools.manifest import OutputFolder

GRADES_FOLDER = ".grades"
SAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class NotebookGrade:
    """The grade of one submission: a row per exercise, flags, and how the run went."""

    student: str
    notebook: str
    rows: list[dict[str, Any]]
    flags: list[str] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0
    cells: list[dict[str, Any]] = field(default_factory=list)
    sandbox: str = ""
    key: str = ""




def file_name_for(student: str) -> str:
    """Return a file-name-safe folder name for ``student``, with a short hash when the name had to change.

    Example:
        >>> file_name_for("alice"), file_name_for("Zoë O'Neil")[:10]
        ('alice', 'Zo_O_Neil-')
    """
    safe = SAFE_CHARACTERS.sub("_", student).strip("._") or "student"
    if safe == student and not safe.startswith("."):
        return safe
    return f"{safe[:60]}-{hashlib.sha256(student.encode('utf-8')).hexdigest()[:8]}"


def spreadsheet_safe(value: object) -> object:
    """Return ``value`` so that a spreadsheet shows it as text, never runs it as a formula.

    Example:
        >>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe(2.0)
        ("'=HYPERLINK(1)", 2.0)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def kept_grade_name(student: str, notebook: str) -> str:
    """Where, inside the grades folder, the grade of one submission is kept between runs."""
    return f"{GRADES_FOLDER}/{file_name_for(student)}/{Path(notebook).stem}.json"


def feedback_name(student: str, notebook: str) -> str:
    """Where, inside the grades folder, the feedback page of one submission goes."""
    return f"feedback/{file_name_for(student)}/{Path(notebook).stem}.html"


def load_kept_grade(out: OutputFolder, student: str, notebook: str, key: str) -> NotebookGrade | None:
    """Return the kept grade if ``grade`` wrote it from the same submission and course (``key``), else None."""
    name = kept_grade_name(student, notebook)
    if not out.owns(name):  # planted, edited or missing: graded again
        return None
    path = out.folder / name
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        grade = NotebookGrade(**kept)
    except (OSError, ValueError, TypeError):  # missing, or damaged by hand: graded again
        return None
    return grade if grade.key == key and grade.student == student and grade.notebook == notebook else None


def keep_grade(out: OutputFolder, grade: NotebookGrade) -> None:
    """Keep one submission's grade (atomically) for the next run."""
    out.write(kept_grade_name(grade.student, grade.notebook), json.dumps(asdict(grade), indent=1))


def _csv_text(header: list[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[spreadsheet_safe(value) for value in row] for row in rows])
    return buffer.getvalue()


def write_gradebooks(out: OutputFolder, grades: list[NotebookGrade], columns: list[str]) -> None:
    """Write ``gradebook.csv`` (a row per student, a column per exercise, and total) and ``grades_long.csv``."""
    students = sorted({grade.student for grade in grades})
    points: dict[str, dict[str, float]] = {student: {} for student in students}
    flagged: dict[str, list[str]] = {student: [] for student in students}
    long_rows = []
    for grade in grades:
        for row in grade.rows:
            points[grade.student][row["exercise"]] = row["points"]
            if row["flag"]:
                flagged[grade.student].append(f"{row['exercise']}: {row['flag']}")
            long_rows.append([row["student"], row["notebook"], row["exercise"], row["points"], row["hint"],
                              row["flag"]])
        flagged[grade.student] += [f"{grade.notebook}: {flag}" for flag in grade.flags]
    wide_rows = [[student, *[points[student].get(column, "") for column in columns],
                  sum(points[student].values()), "; ".join(flagged[student])] for student in students]
    out.write("gradebook.csv", _csv_text(["student", *columns, "total", "flags"], wide_rows))
    out.write("grades_long.csv", _csv_text(["student", "notebook", "exercise", "points", "hint", "flag"], long_rows))


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:.3rem .6rem;text-align:left;vertical-align:top}}
.pass{{color:#1a6b2a}}.fail{{color:#8a1c1c}}.flag{{background:#fff2cc}}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


def feedback_page(grade: NotebookGrade) -> str:
    """Return the feedback page of one submission: each exercise, passed or its hint, and why a run stopped."""
    items = []
    for row in grade.rows:
        name = html.escape(row["exercise"])
        if row["passed"]:
            items.append(f'<li class="pass">✅ <strong>{name}</strong>: passed ({row["points"]:g} of '
                         f'{row["possible"]:g} points)</li>')
        else:
            items.append(f'<li class="fail">❌ <strong>{name}</strong>: not yet (0 of {row["possible"]:g}). '
                         f'Hint: {html.escape(row["hint"])}</li>')
    body = f"<p>{html.escape(grade.student)}: {sum(r['points'] for r in grade.rows):g} of " \
           f"{sum(r['possible'] for r in grade.rows):g} points.</p>\n<ul>\n" + "\n".join(items) + "\n</ul>"
    if grade.stopped:
        body += f"\n<p>Your notebook was {html.escape(grade.stopped)}; exercises after that were not graded.</p>"
    return PAGE.format(title=html.escape(f"Feedback: {grade.notebook}"), body=body)


def write_feedback(out: OutputFolder, grade: NotebookGrade) -> Path:
    """Write one submission's feedback page; return its path."""
    return out.write(feedback_name(grade.student, grade.notebook), feedback_page(grade))


def pass_shares(grades: list[NotebookGrade], columns: list[str]) -> dict[str, float]:
    """Return the share of graded students passing each exercise.

    Example:
        >>> grade = NotebookGrade("a", "01.ipynb", [{"exercise": "01/x", "passed": True}])
        >>> pass_shares([grade], ["01/x", "01/y"])
        {'01/x': 1.0, '01/y': 0.0}
    """
    passed = {column: 0 for column in columns}
    seen = {column: 0 for column in columns}
    for grade in grades:
        for row in grade.rows:
            if row["exercise"] in seen:
                seen[row["exercise"]] += 1
                passed[row["exercise"]] += bool(row["passed"])
    return {column: passed[column] / seen[column] if seen[column] else 0.0 for column in columns}


def pass_share_chart(shares: dict[str, float]) -> str:
    """Return an SVG bar chart of the share of students passing each exercise, with a text label per bar."""
    bar, gap, width, label_width = 16, 6, 360, 260
    rows = []
    for place, (column, share) in enumerate(shares.items()):
        y = place * (bar + gap)
        rows.append(f'<text x="{label_width - 8}" y="{y + 12}" text-anchor="end">{html.escape(column)}</text>'
                    f'<rect x="{label_width}" y="{y}" width="{share * width:.1f}" height="{bar}" fill="#3b6ea5">'
                    f'<title>{html.escape(column)}: {share:.0%}</title></rect>'
                    f'<text x="{label_width + share * width + 6:.1f}" y="{y + 12}">{share:.0%}</text>')
    height = max(1, len(shares)) * (bar + gap)
    return (f'<svg role="img" aria-label="share of students passing each exercise" width="{label_width + width + 60}"'
            f' height="{height}" font-size="12" xmlns="http://www.w3.org/2000/svg">' + "".join(rows) + "</svg>")


def write_class_report(out: OutputFolder, grades: list[NotebookGrade], columns: list[str], problems: list[str],
                       sandbox: str, seconds_per_submission: list[float]) -> Path:
    """Write ``report.html``: the chart of pass shares, the flags, the stopped runs, the skipped files, the sandbox."""
    students = sorted({grade.student for grade in grades})
    parts = [f"<p>{len(students)} students, {len(grades)} graded notebooks. Sandbox: {html.escape(sandbox)}</p>"]
    if seconds_per_submission:
        parts.append(f"<p>Grading took {sum(seconds_per_submission) / len(seconds_per_submission):.1f} s per "
                     f"graded submission on average (those graded in this run: {len(seconds_per_submission)}).</p>")
    parts += ["<h2>Share of students passing each exercise</h2>", pass_share_chart(pass_shares(grades, columns))]
    flags = [(grade, flag) for grade in grades for flag in grade.flags + [row["flag"] for row in grade.rows
                                                                           if row["flag"]]]
    if flags:
        parts.append("<h2>Flagged (graded 0; look at these by hand)</h2><ul>" + "".join(
            f'<li class="flag">{html.escape(grade.student)}, {html.escape(grade.notebook)}: {html.escape(flag)}</li>'
            for grade, flag in flags) + "</ul>")
    stopped = [grade for grade in grades if grade.stopped]
    if stopped:
        parts.append("<h2>Stopped early (graded for what finished)</h2><ul>" + "".join(
            f"<li>{html.escape(grade.student)}, {html.escape(grade.notebook)}: {html.escape(grade.stopped)}; "
            f"{html.escape(_slowest_cells(grade))}</li>" for grade in stopped) + "</ul>")
    if problems:
        parts.append("<h2>Files not graded</h2><ul>" + "".join(f"<li>{html.escape(line)}</li>"
                                                               for line in problems) + "</ul>")
    return out.write("report.html", PAGE.format(title="Class grades", body="\n".join(parts)))


def _slowest_cells(grade: NotebookGrade) -> str:
    cells = sorted(grade.cells, key=lambda cell: cell["seconds"], reverse=True)[:3]
    return "slowest cells: " + ", ".join(f"cell {cell['index']} {cell['seconds']:.1f} s ({cell['status']})"
                                         for cell in cells)

