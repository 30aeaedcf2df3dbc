"""Time the test suite next to its floor, side by side in one run, on this machine.

    .venv/bin/python benchmarks/test_suite.py              # the floor, the smoke runs, make test-fast and test-pinned
    .venv/bin/python benchmarks/test_suite.py --no-pytest  # the floor and the smoke runs only
    .venv/bin/python benchmarks/test_suite.py --baseline   # also the old way: one papermill run after another
    .venv/bin/python benchmarks/test_suite.py --fresh-clone  # also make test in a fresh clone (about 10 min)

The floor is what a notebook run pays before its first line of work: starting a
kernel and importing torch in it. The suite's smoke runs get under it by paying
the imports once: their kernels are forked from one process that imported torch
(helpers.tools.warm_kernels); the table times them with ordinary kernels too.
Every measurement runs in a fresh Python process, so nothing is imported
already. Machines are shared and noisy, so the table shows ratios to the floor
measured in the same run; it replaces the "Test suite" section of
benchmarks/results.md and prints the figures.
Targets: smoke runs of all notebooks <= 60 s, make test-fast <= 1 min, make test-pinned <= 4 min,
make test from a fresh clone <= 10 min.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.md"
SECTION = "## Test suite"
"""This script's section of results.md; benchmarks/run_benchmarks.py keeps it when it rewrites the rest."""
REPEATS = 3

KERNEL_WITH_TORCH = """
import json, sys, time
import nbformat
from nbclient import NotebookClient
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch")])
started = time.perf_counter()
NotebookClient(notebook, kernel_name="python3").execute()
print(json.dumps(time.perf_counter() - started))
"""

SHARED_SMOKE_RUNS = """
import json, sys
from pathlib import Path
from helpers.course import facts
from helpers.tools.smoke_runs import run_smoke_notebooks
runs = run_smoke_notebooks(facts.notebook_paths(), Path(sys.argv[1]), {"PRESET": "smoke"}, jobs=int(sys.argv[2]),
                           warm=sys.argv[3] == "warm")
print(json.dumps({"passed": all(run.lesson.passed and run.student.passed for run in runs.values()),
                  "seconds": {name: run.lesson.seconds for name, run in runs.items()}}))
"""

PAPERMILL_SMOKE_RUNS = """
import json, sys
from pathlib import Path
from helpers.course import facts
from helpers.tools.runner import run_notebooks
runs = run_notebooks(facts.notebook_paths(), Path(sys.argv[1]), {"PRESET": "smoke"})
print(json.dumps({"passed": all(run.passed for run in runs), "seconds": {run.notebook: run.seconds for run in runs}}))
"""


def seconds_of(command: list[str]) -> float:
    """Return the wall-clock seconds ``command`` takes, run from the repository root; raise if it fails."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def pytest_seconds(arguments: list[str]) -> tuple[float, str]:
    """Return the wall-clock seconds of a pytest run and its last line: a failing suite is still timed."""
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
                              cwd=ROOT, capture_output=True, text=True)  # as make runs it: no PYTHONPATH
    lines = finished.stdout.strip().splitlines() or ["no output"]
    summary = lines[-1].strip("= ")
    failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")]
    if failed:
        summary += "; failed: " + ", ".join(failed)
    return time.perf_counter() - started, summary


def json_of(script: str, *args: str) -> object:
    """Run ``script`` with ``args`` in a fresh Python and return the JSON it prints last."""
    output = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=python_env(), check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def timed_json_of(script: str, *args: str) -> tuple[float, object]:
    """Return the wall-clock seconds of ``json_of(script, *args)`` (process start included) and its JSON."""
    started = time.perf_counter()
    result = json_of(script, *args)
    return time.perf_counter() - started, result


def python_env() -> dict[str, str]:
    """Return this environment with the checkout first on the import path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def median_of(measure, repeats: int = REPEATS) -> float:
    return statistics.median(measure() for _ in range(repeats))


def floor() -> dict[str, float]:
    """Return the medians of: importing torch and torchvision, importing papermill, a kernel importing torch."""
    python = [sys.executable, "-c"]
    return {
        "import torch, torchvision": median_of(lambda: seconds_of(python + ["import torch, torchvision"])),
        "import papermill": median_of(lambda: seconds_of(python + ["import papermill"])),
        "kernel start + import torch": median_of(lambda: json_of(KERNEL_WITH_TORCH)),
    }


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} m {seconds % 60:02.0f} s"


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def measure(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Return the table's rows: what, measured, and the ratio to the floor or the target."""
    jobs = os.cpu_count() or 1
    base = floor()
    per_notebook = base["kernel start + import torch"]
    notebooks = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    smoke_floor = notebooks * per_notebook / jobs + base["import papermill"]
    rows = [(f"floor: {name}", f"{seconds:.1f} s", "median of 3") for name, seconds in base.items()]
    rows.append((f"floor of {notebooks} smoke runs, {jobs} at a time", f"{smoke_floor:.0f} s",
                 f"{notebooks} x kernel + torch / {jobs}, + import papermill"))
    with tempfile.TemporaryDirectory(prefix="course-bench-") as work:
        cold_wall, cold = timed_json_of(SHARED_SMOKE_RUNS, str(Path(work) / "cold"), str(jobs), "cold")
        rows.append((f"smoke runs of all {notebooks} notebooks, lesson and student edition, {jobs} at a time, "
                     f"ordinary kernels", f"{cold_wall:.0f} s{failed(cold)}", f"{cold_wall / smoke_floor:.2f} x floor"))
        wall, smoke = timed_json_of(SHARED_SMOKE_RUNS, str(Path(work) / "warm"), str(jobs), "warm")
        rows.append((f"the same, kernels forked from one process that imported torch (as the suite runs them)",
                     f"{wall:.0f} s{failed(smoke)}", f"{wall / smoke_floor:.2f} x floor; target <= 60 s"))
        slowest = max(smoke["seconds"], key=smoke["seconds"].get)
        rows.append(("slowest notebook in them", f"{slowest[:2]}: {smoke['seconds'][slowest]:.0f} s",
                     f"{smoke['seconds'][slowest] / per_notebook:.1f} x kernel + torch"))
        if args.baseline:
            old_wall, old = timed_json_of(PAPERMILL_SMOKE_RUNS, str(Path(work) / "papermill"))
            rows.append((f"the old way: {notebooks} papermill runs one after another, lessons only",
                         f"{old_wall:.0f} s{failed(old)}", f"{old_wall / wall:.2f} x the shared runs"))
    if args.pytest:
        fast, fast_summary = pytest_seconds(["tests", "-m", "not slow", "--ignore=tests/notebooks",
                                             "--ignore=tests/site"])
        rows.append((f"make test-fast (unit tests: {fast_summary})", minutes(fast),
                     f"{fast / base['import torch, torchvision']:.0f} x import torch; target <= 1 min"))
        pinned, pinned_summary = pytest_seconds(["-n", "auto", "--dist", "loadfile"])  # as the Makefile runs it
        rows.append((f"make test-pinned, ready environment ({pinned_summary})", minutes(pinned),
                     f"{pinned / smoke_floor:.1f} x smoke floor; target <= 4 min"))
    if args.fresh_clone:
        fresh, fresh_summary = fresh_clone_seconds()
        rows.append((f"make test from a fresh clone, both environments built ({fresh_summary})", minutes(fresh),
                     f"{fresh / smoke_floor:.1f} x smoke floor; target <= 10 min"))
    return rows


def failed(smoke: dict) -> str:
    return "" if smoke["passed"] else ", SOME FAILED"


def fresh_clone_seconds() -> tuple[float, str]:
    """Return the wall-clock seconds of ``make test`` in a fresh clone of HEAD, and its outcome.

    The clone builds .venv and .venv-oldest from nothing, as CI does: pip downloads what this machine's
    disk does not hold (torch for .venv-oldest, about 3 GB).
    """
    with tempfile.TemporaryDirectory(prefix="course-fresh-clone-") as clone:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), clone], check=True)
        started = time.perf_counter()
        finished = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    results = [line.strip("= ") for line in finished.stdout.splitlines() if " passed" in line and " in " in line]
    outcome = "; ".join(results) if finished.returncode == 0 else f"FAILED, exit status {finished.returncode}"
    return seconds, outcome


def write_section(rows: list[tuple[str, str, str]], started_load: str) -> str:
    """Replace the test-suite section of results.md with this run's table; return the section."""
    machine = f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"
    lines = [SECTION, "", f"Measured {datetime.date.today().isoformat()} by `benchmarks/test_suite.py` on {machine}; "
             f"load average {started_load} at the start and {load_average()} at the end (1, 5, 15 min).", "",
             "| what | measured | compared |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {compared} |" for what, measured, compared in rows]
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    before = text.split(SECTION)[0].rstrip("\n")
    RESULTS.write_text((before + "\n\n" if before else "") + section)
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pytest", dest="pytest", action="store_false", help="skip timing the test suite")
    parser.add_argument("--baseline", action="store_true", help="also time one papermill run after another")
    parser.add_argument("--fresh-clone", action="store_true", help="also time make test in a fresh clone of HEAD")
    args = parser.parse_args()
    started_load = load_average()
    print(write_section(measure(args), started_load))


if __name__ == "__main__":
    main()
