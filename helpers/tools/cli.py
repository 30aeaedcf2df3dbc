"""The course's command line: ``pytorch-course`` once the package is installed, ``python -m helpers`` anywhere.

    pytorch-course run [NOTEBOOK ...] [--preset class] [--out DIR] [-p NAME VALUE[,VALUE...]] [--grid FILE] [--jobs N]
    pytorch-course doctor [--preset full]
    pytorch-course data synthetic --out DIR [--per-class N] [--seed S] [--size PX]
    pytorch-course data nih --out DIR
    pytorch-course student-edition --out DIR     # notebooks with the solutions taken out
    pytorch-course execute [NOTEBOOK ...]      # refresh committed outputs (maintainers)
    pytorch-course release X.Y.Z               # set the version, refresh and re-execute, commit and tag
    pytorch-course site [--out site]           # the course website, from the committed notebooks

Options may come before or after the notebook names. A parameter with several
values (-p EPOCHS 2,5) is a grid axis: one run per combination.
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


def course_notebooks() -> list[Path]:
    """Return the course notebooks: the checkout's, else those in ./notebooks or the current folder.

    An installed package has no notebooks of its own, so outside a checkout the
    command looks where the learner is; finding none, it stops with what to do.
    """
    for folder in (facts.NOTEBOOKS_DIR, Path.cwd() / "notebooks", Path.cwd()):
        found = facts.notebook_paths(folder)
        if found:
            return found
    raise SystemExit("No course notebooks here: the installed package holds none, and neither ./notebooks/ "
                     f"nor this folder has any. Run from a checkout of the course (git clone "
                     f"{facts.REPOSITORY_URL}) or name the notebook files.")


def resolve_notebooks(names: list[str]) -> list[Path]:
    """Return the notebooks to run: all of them when ``names`` is empty.

    A name may be a path, a file name or a number prefix such as ``01``.
    """
    if not names:
        return course_notebooks()
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        known = course_notebooks()
        matches = [p for p in known if p.name.startswith(name)]
        if len(matches) != 1:
            raise SystemExit(f"No single course notebook matches {name!r}; "
                             f"try one of: {', '.join(p.name for p in known)}")
        chosen.append(matches[0])
    return chosen


def split_parameters(pairs: list[list[str]], grid_file: str | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Return (fixed parameters, grid) from ``-p NAME VALUE[,VALUE...]`` options and a YAML file.

    A name with one value is fixed; a name with several comma-separated values
    (or a list in the YAML file) is a grid axis. Command-line values win over the file.

    Example:
        >>> split_parameters([["EPOCHS", "1,3"], ["SEED", "0"]], None)
        ({'SEED': 0}, {'EPOCHS': [1, 3]})
    """
    values: dict[str, Any] = {}
    if grid_file:
        loaded = yaml.safe_load(Path(grid_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{grid_file} must map parameter names to a value or a list of values.")
        values.update(loaded)
    for name, text in pairs:
        parsed = [parse_value(part) for part in text.split(",")]
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


def command_release(args: argparse.Namespace) -> int:
    from helpers.tools.release import ReleaseError, release

    try:
        tag = release(args.version, facts.CHECKOUT_ROOT)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Released {tag}. Publish it with: git push origin main {tag}\n"
          "The badges and Colab/Kaggle installs open that tag, and notebook 05's backbone comes from its "
          "data/pretrained/, so push the tag before sharing links.")
    return 0


def command_site(args: argparse.Namespace) -> int:
    from helpers.tools.site import SiteError, build_site

    try:
        pages, seconds = build_site(Path(args.out))
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Built {pages} pages into {args.out}/ in {seconds:.1f} s; open {args.out}/index.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytorch-course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute notebooks headless and write a report")
    run.add_argument("notebooks", nargs="*", help="paths, names or number prefixes (default: all)")
    run.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    run.add_argument("--out", default="runs/latest", help="folder for executed notebooks and report")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a notebook parameter (-p EPOCHS 3); comma-separated values make a grid (-p EPOCHS 1,3,5)")
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

    release = commands.add_parser("release", help="cut a release: version, badges, setup cells, outputs, tag")
    release.add_argument("version", help="the new version, e.g. 0.2.0 (tagged v0.2.0)")
    release.set_defaults(handler=command_release)
    site = commands.add_parser("site", help="build the course website from the committed notebooks")
    site.add_argument("--out", default="site", help="folder for the website (default: site)")
    site.set_defaults(handler=command_site)

    for command_parser in commands.choices.values():
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Options may come before, between or after notebook names: arguments that
    the first pass leaves over are parsed again by the command's own parser,
    which takes options and names in any order.
    """
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, left_over = parser.parse_known_args(argv)
    if left_over:
        args = args.command_parser.parse_intermixed_args(argv[argv.index(args.command) + 1:])
    return args.handler(args)
