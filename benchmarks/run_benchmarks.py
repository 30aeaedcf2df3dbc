"""Measure the course's speed targets side by side, in one run, on this machine.

    .venv/bin/python benchmarks/run_benchmarks.py            # about 3 minutes on 2 CPU cores
    .venv/bin/python benchmarks/run_benchmarks.py --pytest   # also time the whole test suite

benchmarks/test_suite.py times the test suite against its floor, in a section of its own.

Prints a table and writes it to benchmarks/results.md. Figures, not pass/fail:
machines are shared and noisy, so compare ratios measured in the same run.
Targets: synthetic generation >= 2,000 images/s at 64 px; fit <= 1.03 x the
hand-written loop; every notebook's smoke run <= 30 s and all of them <= 3 min.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TEST_SUITE_SECTION = "## Test suite"
"""The heading of the section benchmarks/test_suite.py writes into the same results file."""
sys.path.insert(0, str(ROOT))

from helpers.course import facts  # noqa: E402
from helpers.data import make_loaders  # noqa: E402
from helpers.tools.runner import run_notebooks  # noqa: E402
from helpers.synthetic import make_synthetic_cells  # noqa: E402


def generation_speed(folder: Path, images_per_class: int, workers: int | None) -> float:
    """Return synthetic images written per second at 64 px."""
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    make_synthetic_cells(folder, per_class=images_per_class, seed=0, image_size=64, workers=workers)
    return 2 * images_per_class / (time.perf_counter() - started)


def loader_speed(root: Path, workers: int) -> float:
    """Return training images per second served by make_loaders' training loader (one pass)."""
    loaders = make_loaders(root, image_size=64, batch_size=32, num_workers=workers)
    started = time.perf_counter()
    seen = sum(len(labels) for _, labels in loaders.train)
    return seen / (time.perf_counter() - started)


def fit_overhead() -> str:
    """Run benchmarks/fit_overhead.py and return its ratio line."""
    output = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fit_overhead.py")],
                            capture_output=True, text=True, check=True).stdout
    match = re.search(r"fit / hand: .*", output)
    return match.group(0) if match else output.strip().splitlines()[-1]


def capstone_gpu_throughput(root: Path) -> float:
    """Return training images per second of the small CNN on the GPU (only called when one exists)."""
    from helpers.engine import train_one_epoch
    from helpers.models import make_small_cnn

    device = torch.device("cuda")
    loaders = make_loaders(root, image_size=64, batch_size=64, num_workers=2, pin_memory=True)
    model = make_small_cnn().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    train_one_epoch(model, loaders.train, torch.nn.CrossEntropyLoss(), optimizer, device)  # warm-up
    torch.cuda.synchronize()
    started = time.perf_counter()
    train_one_epoch(model, loaders.train, torch.nn.CrossEntropyLoss(), optimizer, device)
    torch.cuda.synchronize()
    return len(loaders.split.train) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytest", action="store_true", help="also time the whole test suite")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="course-bench-", dir=ROOT / "data"))
    try:
        speed_all = generation_speed(work / "gen", 2000, workers=None)
        speed_one = generation_speed(work / "gen", 2000, workers=1)
        rows += [("synthetic generation, 64 px, all cores", f"{speed_all:,.0f} images/s", ">= 2,000"),
                 ("synthetic generation, 64 px, 1 process", f"{speed_one:,.0f} images/s", "")]

        cells = make_synthetic_cells(work / "cells", per_class=600, seed=0)
        zero, two = loader_speed(cells, 0), loader_speed(cells, 2)
        rows += [("loader, 64 px, num_workers=0", f"{zero:,.0f} images/s", ""),
                 ("loader, 64 px, num_workers=2", f"{two:,.0f} images/s", f"ratio {two / zero:.2f}")]

        rows.append(("fit against the hand-written loop", fit_overhead(), "<= 1.03"))

        started = time.perf_counter()
        runs = run_notebooks(facts.notebook_paths(), work / "smoke", {"PRESET": "smoke"})
        wall = time.perf_counter() - started
        for run in runs:
            rows.append((f"smoke run {run.notebook}", f"{run.seconds:.1f} s" + ("" if run.passed else " FAILED"),
                         "<= 30 s"))
        rows.append(("smoke runs, all notebooks, one after another (`python -m helpers run`)", f"{wall:.0f} s",
                     "<= 180 s"))

        if args.pytest:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, check=False,
                           capture_output=True)
            rows.append(("whole test suite (pytest)", f"{time.perf_counter() - started:.0f} s", ""))
        if torch.cuda.is_available():
            rows.append(("capstone CNN training on the GPU", f"{capstone_gpu_throughput(cells):,.0f} images/s", ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
               + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"))
    lines = [f"# Benchmarks, {datetime.date.today().isoformat()}", "", f"Machine: {machine}.", "",
             "| what | measured | target |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {target} |" for what, measured, target in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    previous = Path(args.out).read_text() if Path(args.out).exists() else ""
    if TEST_SUITE_SECTION in previous:  # benchmarks/test_suite.py's figures stay until it runs again
        text += "\n" + TEST_SUITE_SECTION + previous.split(TEST_SUITE_SECTION, 1)[1]
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
