"""Every comparison the notebooks draw, measured over seeds with the course's own runner, and its verdict.

The notebooks record what they compare (``helpers.course.records.record``).
This script runs them with ``python -m helpers run`` on the ``class`` preset,
once per seed, reads the records of the executed notebooks and writes one
table into ``benchmarks/results.md``:

* the difference each comparison measures, per seed (one recipe minus the
  other, in the figure's own units);
* its mean, its min–max over the seeds, and its seed spread (the standard
  deviation of the difference over the seeds);
* the verdict: **better** or **worse** only where every seed agrees in sign
  and the mean difference exceeds twice the seed spread; otherwise **tie**.

It also checks that every model trained on the full training split ends at
least 30 points above its validation split's majority baseline on every seed.

Run, from the repository root (about half an hour on 2 CPU cores):

    .venv/bin/python benchmarks/comparisons.py

or, to rebuild the table from runs already made (a notebook executed without a
``SEED`` parameter, such as the committed ones, ran with the preset's seed, 0):

    .venv/bin/python benchmarks/comparisons.py --runs runs/comparisons notebooks
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from helpers.course.presets import PRESETS  # noqa: E402
from helpers.course.records import read_records  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.md"
START, END = "<!-- comparisons: start -->", "<!-- comparisons: end -->"
NOTEBOOKS = ("03", "05", "06", "11")
REQUIRED_MARGIN = 0.30
"""How far above the majority baseline every model trained on the full training split must end, on every seed."""

Records = dict[str, dict]
"""One seed's records, by notebook number ("06") and then by name."""


@dataclass(frozen=True)
class Comparison:
    """One comparison a notebook draws: what it is, where, and how its difference is read from the records."""

    name: str
    notebook: str
    unit: str
    difference: Callable[[Records], float]
    label: str = ""
    """Which of (a)-(f) of the data issue it answers, if any."""
    lower_is_better: bool = False
    """For a loss or a count of false alarms: the verdict's "better" then means a lower figure."""


COMPARISONS = (
    Comparison("64-image balanced subset vs all training images: validation accuracy (last vs best epoch)", "06",
               "accuracy", lambda r: r["06"]["overfit_valid_accuracy"] - r["06"]["fit_best_valid_accuracy"], "(a)"),
    Comparison("64-image balanced subset vs all training images: validation loss (last vs best epoch)", "06", "loss",
               lambda r: r["06"]["overfit_excess_valid_loss"], "(a)", lower_is_better=True),
    Comparison("64-image subset: validation loss at the last epoch vs at its lowest", "06", "loss",
               lambda r: r["06"]["overfit_valid_loss_rise"], "(a)", lower_is_better=True),
    Comparison("64-image subset, last epoch: validation loss vs training loss", "06", "loss",
               lambda r: r["06"]["overfit_last_valid_loss"] - r["06"]["overfit_last_train_loss"], "(a)",
               lower_is_better=True),
    Comparison("64-image subset, last epoch: training accuracy vs validation accuracy", "06", "accuracy",
               lambda r: r["06"]["overfit_train_accuracy"] - r["06"]["overfit_valid_accuracy"], "(a)"),
    *(Comparison(f"{pipeline} vs no augmentation (64-image subset, 40 epochs): validation {figure}", "06", figure,
                 lambda r, k=key, f=figure: r["06"][f"augment_{k}_valid_{f}"] - r["06"][f"augment_none_valid_{f}"],
                 "(b)", lower_is_better=figure == "loss")
      for pipeline, key in (("rotate, crop, flip", "flips"), ("rotate, crop, flip and colour", "colour"))
      for figure in ("accuracy", "loss")),
    Comparison("OneCycleLR (fit) vs a constant learning rate (the hand loop): best validation accuracy", "06",
               "accuracy", lambda r: r["06"]["fit_best_valid_accuracy"] - r["06"]["loop_best_valid_accuracy"]),
    *(Comparison(f"feature extraction, pretrained on shapes vs random weights, {budget} labels per class: test "
                 "accuracy", "05", "accuracy",
                 lambda r, b=budget: r["05"][f"pretrained_feature_accuracy_{b}"] - r["05"][f"random_feature_accuracy_{b}"],
                 "(c)")
      for budget in (24, 200)),
    *(Comparison(f"{first} vs {second}, {budget} labels per class (one draw): test accuracy", "05", "accuracy",
                 lambda r, b=budget, f=first_key, s=second_key: r["05"][f"{f}_{b}"] - r["05"][f"{s}_{b}"], "(c)")
      for first, first_key, second, second_key in (
          ("fine-tuning", "fine_tune_accuracy", "feature extraction", "pretrained_feature_accuracy_first_draw"),
          ("fine-tuning", "fine_tune_accuracy", "from scratch", "scratch_accuracy"),
          ("feature extraction", "pretrained_feature_accuracy_first_draw", "from scratch", "scratch_accuracy"))
      for budget in (24, 200)),
    Comparison("transfer model vs small CNN: validation accuracy", "11", "accuracy",
               lambda r: r["11"]["transfer_valid_accuracy"] - r["11"]["cnn_valid_accuracy"], "(d)"),
    Comparison("transfer model vs small CNN: test accuracy", "11", "accuracy",
               lambda r: r["11"]["transfer_test_accuracy"] - r["11"]["cnn_test_accuracy"], "(d)"),
    Comparison("threshold 0.3 vs 0.5: recall of Parasitized (test)", "11", "recall",
               lambda r: r["11"]["recall_at_0_3"] - r["11"]["recall_at_0_5"], "(e)"),
    Comparison("threshold 0.3 vs 0.5: healthy cells flagged (test)", "11", "cells",
               lambda r: r["11"]["false_alarms_at_0_3"] - r["11"]["false_alarms_at_0_5"], "(e)", lower_is_better=True),
    Comparison("random split vs patient split: colour nearest neighbour's test accuracy", "03", "accuracy",
               lambda r: r["03"]["colour_nn_accuracy_random_split"] - r["03"]["colour_nn_accuracy_patient_split"],
               "(f)"),
    Comparison("random split vs patient split: the small CNN's test accuracy (same recipe)", "11", "accuracy",
               lambda r: r["11"]["random_split_cnn_test_accuracy"] - r["11"]["cnn_test_accuracy"], "(f)"),
)

FULL_DATA_MODELS = {
    "06 hand loop": lambda r: r["06"]["loop_best_valid_accuracy"] - r["06"]["valid_majority_baseline"],
    "06 fit, OneCycleLR": lambda r: r["06"]["fit_best_valid_accuracy"] - r["06"]["valid_majority_baseline"],
    "11 small CNN": lambda r: r["11"]["cnn_valid_accuracy"] - r["11"]["valid_majority_baseline"],
    "11 transfer model": lambda r: r["11"]["transfer_valid_accuracy"] - r["11"]["valid_majority_baseline"],
    "11 small CNN, random split": lambda r: (r["11"]["random_split_cnn_valid_accuracy"]
                                             - r["11"]["random_split_valid_majority_baseline"]),
}
"""Each model trained on the full training split: its validation accuracy minus the majority baseline."""


def verdict(differences: list[float]) -> str:
    """Return "better", "worse" or "tie" for one comparison's differences over the seeds.

    Better or worse only where every seed agrees in sign and the mean exceeds twice the seed spread.

    Example:
        >>> verdict([0.05, 0.06, 0.04]), verdict([0.05, -0.01, 0.04]), verdict([0.0, 0.0])
        ('better', 'tie', 'tie')
    """
    mean = statistics.fmean(differences)
    spread = statistics.stdev(differences) if len(differences) > 1 else float("inf")
    agree = all(d > 0 for d in differences) or all(d < 0 for d in differences)
    if not agree or abs(mean) <= 2 * spread:
        return "tie"
    return "better" if mean > 0 else "worse"


def comparison_verdict(comparison: Comparison, differences: list[float]) -> str:
    """Return :func:`verdict` in ``comparison``'s own sense of better: lower, for a loss or a count of false alarms.

    Example:
        >>> flagged = Comparison("0.3 vs 0.5: healthy cells flagged", "11", "cells", len, lower_is_better=True)
        >>> comparison_verdict(flagged, [18.0, 35.0, 52.0])
        'worse'
    """
    return verdict([-d for d in differences] if comparison.lower_is_better else differences)


def run_notebooks(out: Path, seeds: list[int], jobs: int) -> None:
    """Execute the compared notebooks once per seed with the course's runner (``python -m helpers run``)."""
    command = [sys.executable, "-m", "helpers", "run", *NOTEBOOKS, "--preset", "class", "--jobs", str(jobs),
               "--out", str(out)]
    for seed in seeds:
        command += ["-p", "SEED", str(seed)]
    subprocess.run(command, cwd=ROOT, check=True)


def read_runs(folders: list[Path]) -> dict[int, Records]:
    """Return the records of the compared notebooks executed under ``folders``, by seed and notebook number."""
    by_seed: dict[int, Records] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.ipynb")):
            number = path.name[:2] if path.name[:2].isdigit() else path.parent.name[:2]  # grid runs: NN_name/SEED=1
            if number not in NOTEBOOKS or "checkpoints" in str(path.relative_to(folder)):
                continue
            notebook = nbformat.read(path, as_version=4)
            parameters = notebook.metadata.get("papermill", {}).get("parameters", {})
            records = read_records(notebook)
            if records:
                seed = int(parameters.get("SEED", PRESETS["class"].seed))
                by_seed.setdefault(seed, {})[number] = records
    return by_seed


def table(by_seed: dict[int, Records]) -> str:
    """Return the Markdown tables: comparisons with verdicts, then each full-data model's margin per seed."""
    seeds = sorted(by_seed)
    lines = [f"Seeds {', '.join(map(str, seeds))}; `class` preset; synthetic cells (generator version in "
             "`helpers.synthetic.GENERATOR_VERSION`). A difference is the first recipe minus the second. "
             "Verdict: better or worse only where every seed agrees in sign and the mean exceeds twice the seed "
             "spread (standard deviation over the seeds); otherwise tie. Better means the first recipe's figure is "
             "the better one: higher for an accuracy or a recall, lower for a loss or a count of healthy cells "
             "flagged. These results belong to this synthetic "
             "data: on the real NIH images the differences may be other.", "",
             "| comparison | notebook | mean difference | min–max over seeds | seed spread | verdict |",
             "|---|---|---|---|---|---|"]
    for comparison in COMPARISONS:
        differences = [comparison.difference(by_seed[seed]) for seed in seeds]
        digits = 1 if comparison.unit == "cells" else 3
        lines.append(f"| {(comparison.label + ' ') if comparison.label else ''}{comparison.name} | {comparison.notebook} | "
                     f"{statistics.fmean(differences):+.{digits}f} | {min(differences):+.{digits}f} to "
                     f"{max(differences):+.{digits}f} | {statistics.stdev(differences):.{digits}f} | "
                     f"{comparison_verdict(comparison, differences)} |")
    lines += ["", f"Every model trained on the full training split, validation accuracy minus the validation "
              f"split's majority baseline (required: at least {REQUIRED_MARGIN:.2f} on every seed):", "",
              "| model | " + " | ".join(f"seed {seed}" for seed in seeds) + " | all above |",
              "|---" * (len(seeds) + 2) + "|"]
    for name, margin in FULL_DATA_MODELS.items():
        margins = [margin(by_seed[seed]) for seed in seeds]
        lines.append(f"| {name} | " + " | ".join(f"{m:+.3f}" for m in margins)
                     + f" | {'yes' if min(margins) >= REQUIRED_MARGIN else 'NO'} |")
    accuracies = [(seed, name, by_seed[seed][nb][key]) for seed in seeds for name, nb, key in
                  (("06 hand loop", "06", "loop_best_valid_accuracy"), ("11 chosen, test", "11", "test_accuracy"))]
    lines += ["", "Best validation (06) and test (11) accuracies: "
              + ", ".join(f"seed {seed} {name} {value:.3f}" for seed, name, value in accuracies) + "."]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Put ``text`` between the markers in results.md (appending them the first time), atomically."""
    current = RESULTS.read_text()
    section = f"{START}\n## Comparisons over seeds\n\nMeasured {datetime.date.today().isoformat()} by " \
              f"`benchmarks/comparisons.py` on {os.cpu_count()} CPU cores ({platform.machine()}).\n\n{text}\n{END}"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        updated = before + section + rest.split(END, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    handle, temporary = tempfile.mkstemp(prefix=".results.", suffix=".md", dir=RESULTS.parent)
    with os.fdopen(handle, "w") as file:
        file.write(updated)
    os.replace(temporary, RESULTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", help="read these folders of finished runs instead of running")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "comparisons")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.runs is None:
        run_notebooks(args.out, args.seeds, args.jobs)
    folders = args.runs or [args.out]
    by_seed = read_runs(folders)
    missing = [seed for seed in args.seeds if set(NOTEBOOKS) - set(by_seed.get(seed, {}))]
    if missing:
        print(f"no finished runs of notebooks {', '.join(NOTEBOOKS)} for seeds {missing} in "
              f"{', '.join(map(str, folders))}")
        return 1
    text = table({seed: by_seed[seed] for seed in args.seeds})
    write_section(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
