"""The course's command line.

    python -m helpers run [NOTEBOOK ...] --preset class --out runs/class [-p NAME VALUE ...] [--grid FILE] [--jobs N]
    python -m helpers doctor [--preset full]
    python -m helpers data synthetic --out DIR [--per-class N] [--seed S] [--size PX]
    python -m helpers data nih --out DIR
    python -m helpers student-edition --out DIR     # notebooks with the solutions taken out
    python -m helpers execute [NOTEBOOK ...]      # refresh committed outputs (maintainers)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from helpers.course import facts, presets


def parse_value(text: str) -> Any:
    """Read a command-line parameter value as YAML: ``3`` is an int, ``true`` a bool.

    Example:
        >>> parse_value("3"), parse_value("0.5"), parse_value("smoke")
        (3, 0.5, 'smoke')
    """
    return yaml.safe_load(text)


def resolve_notebooks(names: list[str]) -> list[Path]:
    """Return the notebooks to run: all of them when ``names`` is empty.

    A name may be a path, a file name or a number prefix such as ``01``.
    """
    if not names:
        return facts.notebook_paths()
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        matches = [p for p in facts.notebook_paths() if p.name.startswith(name)]
        if len(matches) != 1:
            raise SystemExit(f"No single course notebook matches {name!r}; "
                             f"try one of: {', '.join(p.name for p in facts.notebook_paths())}")
        chosen.append(matches[0])
    return chosen


def split_parameters(pairs: list[list[str]], grid_file: str | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Return (fixed parameters, grid) from ``-p NAME VALUE [VALUE ...]`` options and a YAML file.

    A name with one value is fixed; a name with several values (or a list in
    the YAML file) is a grid axis. Command-line values win over the file.

    Example:
        >>> split_parameters([["EPOCHS", "1", "3"], ["SEED", "0"]], None)
        ({'SEED': 0}, {'EPOCHS': [1, 3]})
    """
    values: dict[str, Any] = {}
    if grid_file:
        loaded = yaml.safe_load(Path(grid_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{grid_file} must map parameter names to a value or a list of values.")
        values.update(loaded)
    for name, *texts in pairs:
        if not texts:
            raise SystemExit(f"-p {name} needs a value, e.g. -p {name} 3 (or several: -p {name} 1 3 5).")
        parsed = [parse_value(text) for text in texts]
        values[name] = parsed if len(parsed) > 1 else parsed[0]
    fixed = {name: value for name, value in values.items() if not isinstance(value, list)}
    grid = {name: value for name, value in values.items() if isinstance(value, list)}
    return fixed, grid


def command_run(args: argparse.Namespace) -> int:
    from helpers.tools.report import write_report
    from helpers.tools.runner import plan_tasks, run_tasks

    fixed, grid = split_parameters(args.parameter, args.grid)
    fixed = {"PRESET": args.preset, **fixed}
    notebooks = resolve_notebooks(args.notebooks)
    out_dir = Path(args.out)
    tasks = plan_tasks(notebooks, out_dir, fixed, grid)
    print(f"Running {len(tasks)} notebook run(s) with {fixed}"
          + (f" over the grid {grid}" if grid else "") + f" into {out_dir}/, {args.jobs} at a time")
    runs = run_tasks(tasks, jobs=args.jobs)
    report = write_report(runs, out_dir, title=f"Course run, preset {fixed['PRESET']}")
    for run in runs:
        status = "reused" if run.skipped else ("passed" if run.passed else "FAILED")
        print(f"{status:>7}  {run.seconds:6.1f} s  {Path(run.output).relative_to(out_dir)}")
        if not run.passed:
            print(run.failure_text())
    print(f"Report: {report} and {report.with_suffix('.html')}")
    return 0 if all(run.passed for run in runs) else 1


def command_doctor(args: argparse.Namespace) -> int:
    from helpers.tools.doctor import run_doctor

    return 0 if run_doctor(args.preset) else 1


def command_data(args: argparse.Namespace) -> int:
    if args.source == "synthetic":
        from helpers.synthetic import make_synthetic_cells

        root = make_synthetic_cells(args.out, per_class=args.per_class, seed=args.seed,
                                    image_size=args.size)
    else:
        from helpers.nih import DataDownloadError, download_nih

        try:
            root = download_nih(args.out)
        except DataDownloadError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    counts = {folder.name: sum(1 for _ in folder.glob("*.png")) for folder in sorted(root.iterdir())
              if folder.is_dir()}
    print(f"{root}: {counts}")
    return 0


def command_student_edition(args: argparse.Namespace) -> int:
    from helpers.tools.student_edition import write_student_edition

    written = write_student_edition(resolve_notebooks(args.notebooks), Path(args.out))
    print(f"wrote the student edition of {len(written)} notebook(s) into {args.out}/")
    return 0


def command_execute(args: argparse.Namespace) -> int:
    from helpers.tools.executor import execute_in_place

    for path in resolve_notebooks(args.notebooks):
        seconds = execute_in_place(path, preset=args.preset)
        print(f"executed {path.name} in {seconds:.1f} s ({args.preset} preset)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute notebooks headless and write a report")
    run.add_argument("notebooks", nargs="*", help="paths, names or number prefixes (default: all)")
    run.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    run.add_argument("--out", default="runs/latest", help="folder for executed notebooks and report")
    run.add_argument("-p", "--parameter", nargs="+", action="append", default=[], metavar="NAME VALUE",
                     help="set a notebook parameter (-p EPOCHS 3); several values make a grid (-p EPOCHS 1 3 5)")
    run.add_argument("--grid", metavar="YAML", help="a YAML file of parameters: a list of values is a grid axis")
    run.add_argument("--jobs", type=int, default=1, help="notebooks executed at the same time")
    run.set_defaults(handler=command_run)

    doctor = commands.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    doctor.set_defaults(handler=command_doctor)

    data = commands.add_parser("data", help="make synthetic cell images or download the NIH data")
    data.add_argument("source", choices=["synthetic", "nih"])
    data.add_argument("--out", required=True, help="folder for the images")
    data.add_argument("--per-class", type=int, default=600, help="synthetic images per class")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--size", type=int, default=None,
                      help="synthetic image side in px (default: varied, 40 to 200 px like the NIH crops)")
    data.set_defaults(handler=command_data)

    student = commands.add_parser("student-edition", help="write the notebooks with solutions taken out")
    student.add_argument("notebooks", nargs="*")
    student.add_argument("--out", required=True, help="folder for the student notebooks")
    student.set_defaults(handler=command_student_edition)

    execute = commands.add_parser("execute", help="re-execute notebooks in place and stamp them")
    execute.add_argument("notebooks", nargs="*")
    execute.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    execute.set_defaults(handler=command_execute)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return args.handler(args)
