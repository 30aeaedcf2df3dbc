"""The course's command line: ``pytorch-course`` once the package is installed, ``python -m helpers`` anywhere.

    pytorch-course run [NOTEBOOK ...] [--preset class] [--out DIR] [-p NAME VALUE ...] [--grid FILE] [--jobs N]
    pytorch-course doctor [--preset full]
    pytorch-course data synthetic --out DIR [--per-class N] [--seed S] [--size PX]
    pytorch-course data nih --out DIR
    pytorch-course student-edition --out DIR     # notebooks with the solutions taken out
    pytorch-course grade SUBMISSIONS --out DIR [--student-pattern REGEX] [--timeout S] [--cluster ADDRESS]
    pytorch-course execute [NOTEBOOK ...]      # refresh committed outputs (maintainers)
    pytorch-course release X.Y.Z               # set the version, refresh and re-execute, commit and tag
    pytorch-course site [--out site]           # the course website, from the committed notebooks

Options may come before or after the notebook names. A parameter given several
times (-p EPOCHS 2 -p EPOCHS 5) is a grid axis: one run per combination.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import nbformat
import yaml

from helpers.course import facts, presets
from helpers.course.paths import CHECKPOINT_DIR_ENV_VAR
from helpers.nih import DataDownloadError
from helpers.safe_files import remove_stale_temporaries
from helpers.tools.manifest import ForeignFileError, OutputFolder

REPORT_TITLE = "Course run"
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_INTERNAL_ERROR = 70


class CommandError(Exception):
    """Bad input to a command: the message says what is wrong and what to do."""


def whole_number(low: int, high: int | None = None, what: str = "value") -> Callable[[str], int]:
    """Return an argparse type that accepts whole numbers from ``low`` to ``high``.

    Example:
        >>> whole_number(1, 10, "jobs")("3")
        3
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{what} must be {allowed}, got {value}")
        return value

    return parse


def parse_value(text: str) -> Any:
    """Read a command-line parameter value as YAML: ``3`` is an int, ``true`` a bool.

    Example:
        >>> parse_value("3"), parse_value("0.5"), parse_value("smoke")
        (3, 0.5, 'smoke')
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CommandError(f"cannot read the value {text!r} ({str(error).splitlines()[0]}): quote it, "
                           f"e.g. -p TAG '\"{text}\"'.") from None


def course_notebooks() -> list[Path]:
    """Return the course notebooks: the checkout's, else those in ./notebooks or the current folder.

    An installed package has no notebooks of its own, so outside a checkout the
    command looks where the learner is; finding none, it stops with what to do.
    """
    for folder in (facts.NOTEBOOKS_DIR, Path.cwd() / "notebooks", Path.cwd()):
        found = facts.notebook_paths(folder)
        if found:
            return found
    raise CommandError("no course notebooks here: the installed package holds none, and neither ./notebooks/ "
                       f"nor this folder has any. Run from a checkout of the course (git clone "
                       f"{facts.REPOSITORY_URL}) or name the notebook files.")


def resolve_notebooks(names: list[str]) -> list[Path]:
    """Return the notebooks to run: all of them when ``names`` is empty.

    A name may be a path, a file name or a number prefix such as ``01``. Each
    notebook must open (see :func:`check_notebook_file`).
    """
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            chosen.append(path.resolve())
            continue
        known = course_notebooks()
        matches = [p for p in known if name and p.name.startswith(name)]
        if len(matches) != 1:
            raise CommandError(f"no single course notebook matches {name!r}: try a number such as 06, "
                               f"a path to a .ipynb file, or one of: {', '.join(p.name for p in known)}")
        chosen.append(matches[0])
    notebooks = list(dict.fromkeys(chosen)) if names else course_notebooks()
    for notebook in notebooks:
        check_notebook_file(notebook)
    return notebooks


def check_notebook_file(path: Path) -> None:
    """Raise :class:`CommandError` unless ``path`` is a notebook Jupyter can open (JSON, UTF-8, nbformat's schema).

    Example:
        >>> broken = Path(tempfile.mkdtemp()) / "broken.ipynb"
        >>> _ = broken.write_text("[]")
        >>> try:
        ...     check_notebook_file(broken)
        ... except CommandError as error:
        ...     print(str(error).split(" (")[0].endswith("is not a notebook Jupyter can open"))
        True
    """
    try:
        nbformat.validate(nbformat.read(path, as_version=4))
    except Exception as error:  # any damage (not JSON, not UTF-8, a list, a cell without its keys): one message
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise CommandError(f"{path} is not a notebook Jupyter can open ({reason}). Open it in JupyterLab to see "
                           "what is wrong, or give another file.") from None


def read_grid_file(grid_file: str) -> dict[Any, Any]:
    """Return the mapping in a YAML grid file, or raise :class:`CommandError` saying what is wrong with it."""
    path = Path(grid_file)
    if not path.exists():
        raise CommandError(f"no grid file at {path}: check the path.")
    if not path.is_file():
        raise CommandError(f"{path} is a folder: --grid takes a YAML file such as grid.yaml.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CommandError(f"{path} is not valid YAML ({first_line}). Write one parameter per line, "
                           "e.g.\n  EPOCHS: [1, 3]\n  SEED: 0") from None
    if loaded is None:
        raise CommandError(f"{path} is empty: write one parameter per line, e.g. EPOCHS: [1, 3].")
    if not isinstance(loaded, dict):
        raise CommandError(f"{path} must map parameter names to a value or a list of values, "
                           "e.g. EPOCHS: [1, 3].")
    return loaded


def split_parameters(pairs: list[list[str]], grid_file: str | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Return (fixed parameters, grid) from ``-p NAME VALUE`` options and a YAML file.

    A name given once is fixed; a name given several times (or a list in the YAML
    file) is a grid axis. Command-line values win over the file. A value is one
    argument, so it may hold any text, commas and spaces included.

    Example:
        >>> split_parameters([["EPOCHS", "1"], ["EPOCHS", "3"], ["SEED", "0"]], None)
        ({'SEED': 0}, {'EPOCHS': [1, 3]})
    """
    values: dict[str, Any] = {}
    if grid_file:
        values.update(read_grid_file(grid_file))
    given: dict[str, list[Any]] = {}
    for name, *texts in pairs:
        if len(texts) != 1:
            raise CommandError(f"-p {name} needs a value, e.g. -p {name} 3 (repeat it for a grid: "
                               f"-p {name} 1 -p {name} 3).")
        given.setdefault(name, []).append(parse_value(texts[0]))
    values.update({name: parsed if len(parsed) > 1 else parsed[0] for name, parsed in given.items()})
    fixed = {name: value for name, value in values.items() if not isinstance(value, list)}
    grid = {name: value for name, value in values.items() if isinstance(value, list)}
    return fixed, grid


def check_out_folder(out_dir: Path, protected: Sequence[Path] = ()) -> None:
    """Raise :class:`CommandError` if ``out_dir`` is a file or one of the ``protected`` folders."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out {out_dir} is a file: give a folder (it is created if needed).")
    for folder in protected:
        if out_dir.resolve() == folder.resolve():
            raise CommandError(f"--out {out_dir} is the folder of the course's own notebooks: writing there "
                               "would overwrite them. Choose another folder, e.g. --out runs/latest.")


RUN_STAGING = re.compile(r"^\.staging-(?P<pid>\d+)-[a-z0-9_]+$")
"""The folder a run executes its notebooks in before moving them into ``--out``: ``.staging-4242-k3j9x``."""


def check_run_outputs(tasks: list, out: OutputFolder) -> None:
    """Refuse before anything runs if a run would overwrite or take over what no course run made in ``--out``.

    That is every executed notebook, the report (``report.md``, ``report.html``,
    any ``plot_*.png``) and each checkpoint folder: a folder of someone else's
    training is never resumed.
    """
    names = [task.output for task in tasks] + ["report.md", "report.html"]
    names += sorted(out.folder.glob("plot_*.png")) + sorted({task.checkpoints for task in tasks if task.checkpoints})
    try:
        out.check_can_write(names)
    except ForeignFileError as error:
        raise CommandError(str(error)) from None


def run_into(tasks: list, out: OutputFolder, jobs: int, cluster: str | None = None) -> list:
    """Execute ``tasks`` in a staging folder inside ``--out`` and move each notebook onto its place; return the runs.

    A run that is killed leaves only its staging folder, named after its
    process, which the next run removes.
    """
    from dataclasses import replace

    from helpers.tools.runner import run_tasks

    for removed in remove_stale_temporaries(out.folder, RUN_STAGING):
        print(f"removed {removed.name}, left by a run that was killed")
    if not os.environ.get(CHECKPOINT_DIR_ENV_VAR):  # else every kernel keeps its checkpoints there
        for folder in dict.fromkeys(task.checkpoints for task in tasks if task.checkpoints):
            out.make_folder(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out.folder))
    try:
        staged = [replace(task, staged=staging / f"{index:04d}.ipynb") for index, task in enumerate(tasks)]
        runs = run_tasks(staged, jobs=jobs, cluster=cluster)
        for task in staged:
            if task.staged.exists():
                out.place(task.staged, task.output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return runs


def command_run(args: argparse.Namespace) -> int:
    from helpers.tools.backend import BackendError
    from helpers.tools.report import write_report
    from helpers.tools.runner import plan_tasks

    fixed, grid = split_parameters(args.parameter, args.grid)
    fixed = {"PRESET": args.preset, **fixed}
    notebooks = resolve_notebooks(args.notebooks)
    out_dir = Path(args.out)
    check_out_folder(out_dir, [facts.NOTEBOOKS_DIR, *{notebook.parent for notebook in notebooks}])
    tasks = plan_tasks(notebooks, out_dir, fixed, grid)
    out = OutputFolder(out_dir, "run")
    check_run_outputs(tasks, out)
    for task in {task.notebook.name: task for task in tasks}.values():
        not_taken = sorted((set(fixed) | set(grid)) - set(task.parameters))
        if not_taken:
            print(f"note: {task.notebook.name} does not declare {', '.join(not_taken)}: it runs without them.")
    print(f"Running {len(tasks)} notebook run(s) with {fixed}"
          + (f" over the grid {grid}" if grid else "") + f" into {out_dir}/, {args.jobs} at a time")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        runs = run_into(tasks, out, args.jobs, cluster=args.cluster)
    except BackendError as error:
        raise CommandError(str(error)) from None
    report = write_report(runs, out_dir, title=f"{REPORT_TITLE}, preset {fixed['PRESET']}", out=out)
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
    check_out_folder(Path(args.out))
    if args.source == "synthetic":
        from helpers.synthetic import make_synthetic_cells

        root = make_synthetic_cells(args.out, per_class=args.per_class, seed=args.seed,
                                    image_size=args.size, workers=args.workers)
    else:
        from helpers.nih import download_nih

        root = download_nih(args.out)
    counts = {folder.name: sum(1 for _ in folder.glob("*.png")) for folder in sorted(root.iterdir())
              if folder.is_dir()}
    print(f"{root}: {counts}")
    return 0


def command_student_edition(args: argparse.Namespace) -> int:
    from helpers.tools.student_edition import write_student_edition

    check_out_folder(Path(args.out))
    written = write_student_edition(resolve_notebooks(args.notebooks), Path(args.out))
    print(f"wrote the student edition of {len(written)} notebook(s) into {args.out}/")
    return 0


def command_grade(args: argparse.Namespace) -> int:
    from helpers.tools.backend import BackendError
    from helpers.tools.grade import GradingError, grade_class
    from helpers.tools.sandbox import Limits

    limits = Limits(seconds=float(args.timeout), answer_cell_seconds=min(Limits.answer_cell_seconds, args.timeout),
                    memory_bytes=args.memory * 2**20)
    try:
        result = grade_class(Path(args.submissions), Path(args.out), student_pattern=args.student_pattern,
                             preset=args.preset, limits=limits, jobs=args.jobs, cluster=args.cluster)
    except (GradingError, BackendError) as error:
        raise CommandError(str(error)) from None
    for line in result.problems:
        print(f"skipped: {line}")
    print(f"Sandbox: {result.sandbox}")
    timing = (f", {sum(result.seconds_per_submission) / len(result.seconds_per_submission):.1f} s per submission"
              if result.seconds_per_submission else "")
    print(f"Graded {result.graded} submission(s), reused {result.reused} unchanged grade(s){timing}.")
    print(f"Gradebook: {Path(args.out) / 'gradebook.csv'}; report: {result.report}")
    return 0


def command_execute(args: argparse.Namespace) -> int:
    from helpers.tools.backend import BackendError, task_executor
    from helpers.tools.executor import execute_batch

    notebooks = resolve_notebooks(args.notebooks)
    outside = [path for path in notebooks if path.resolve().parent != facts.NOTEBOOKS_DIR.resolve()]
    if outside:
        raise CommandError(f"execute rewrites notebooks in place and only takes the course's own, in "
                           f"{facts.NOTEBOOKS_DIR}: not {outside[0]}. To run another notebook, use "
                           "`python -m helpers run PATH --out FOLDER`.")
    try:
        if args.cluster is None:
            _, failed = execute_batch(notebooks, args.preset, report=print)
        else:
            with task_executor(cluster=args.cluster) as executor:
                timings, failed = executor.submit(execute_batch, notebooks, args.preset).result()
            for name, seconds in timings:
                print(f"executed {name} in {seconds:.1f} s ({args.preset} preset, on the cluster)")
    except BackendError as error:
        raise CommandError(str(error)) from None
    for message in failed:
        print(f"error: {message}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} of {len(notebooks)} notebook(s) failed; fix them and run execute again for "
              "those.", file=sys.stderr)
    return 1 if failed else 0


def command_release(args: argparse.Namespace) -> int:
    from helpers.tools.release import NotebooksFailedError, ReleaseError, release

    try:
        tag = release(args.version, facts.CHECKOUT_ROOT)
    except NotebooksFailedError as error:  # a failing notebook, as execute reports it: exit 1
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ReleaseError as error:
        raise CommandError(str(error)) from None
    print(f"Released {tag}. Publish it with: git push origin main {tag}\n"
          "The badges and Colab/Kaggle installs open that tag, and notebook 05's backbone comes from its "
          "data/pretrained/, so push the tag before sharing links.")
    return 0


def command_site(args: argparse.Namespace) -> int:
    from helpers.tools.site import SiteError, build_site

    try:
        pages, seconds = build_site(Path(args.out))
    except SiteError as error:
        raise CommandError(str(error)) from None
    print(f"Built {pages} pages into {args.out}/ in {seconds:.1f} s; open {args.out}/index.html")
    return 0


class CourseArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error as two short lines instead of the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\nSee `{self.prog} --help` for the options.\n")


def build_parser() -> argparse.ArgumentParser:
    from helpers.tools.runner import MAX_JOBS

    parser = CourseArgumentParser(prog="pytorch-course", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute notebooks headless and write a report")
    run.add_argument("notebooks", nargs="*", help="paths, names or number prefixes (default: all)")
    run.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET,
                     help="how much each notebook trains: smoke (seconds, for CI), class (minutes on a laptop's "
                          f"CPU) or full (the real data set, for a GPU); default {presets.DEFAULT_PRESET}")
    run.add_argument("--out", default="runs/latest", help="folder for executed notebooks and report")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a notebook parameter (-p EPOCHS 3); repeat it for a grid "
                          "(-p EPOCHS 1 -p EPOCHS 3)")
    run.add_argument("--grid", metavar="YAML", help="a YAML file of parameters: a list of values is a grid axis")
    run.add_argument("--jobs", type=whole_number(1, MAX_JOBS, "--jobs"), default=1,
                     help=f"notebooks executed at the same time (1 to {MAX_JOBS})")
    run.add_argument("--cluster", metavar="ADDRESS",
                     help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786, whose workers share this "
                          "folder (pip install \".[cluster]\")")
    run.set_defaults(handler=command_run)

    doctor = commands.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    doctor.set_defaults(handler=command_doctor)

    data = commands.add_parser("data", help="make synthetic cell images or download the NIH data")
    data.add_argument("source", choices=["synthetic", "nih"])
    data.add_argument("--out", required=True, help="folder for the images")
    data.add_argument("--per-class", type=whole_number(1, what="--per-class"), default=600,
                      help="synthetic images per class (at most 50000)")
    data.add_argument("--seed", type=whole_number(0, what="--seed"), default=0)
    data.add_argument("--size", type=whole_number(1, what="--size"), default=None,
                      help="synthetic image side in px, 16 to 1024 (default: varied, 40 to 200 px like the NIH crops)")
    data.add_argument("--workers", type=whole_number(1, MAX_JOBS, "--workers"), default=None,
                      help="processes drawing synthetic images (default: one per CPU core)")
    data.set_defaults(handler=command_data)

    student = commands.add_parser("student-edition", help="write the notebooks with solutions taken out")
    student.add_argument("notebooks", nargs="*")
    student.add_argument("--out", required=True, help="folder for the student notebooks")
    student.set_defaults(handler=command_student_edition)

    grade = commands.add_parser(
        "grade", help="grade a class's notebooks: gradebook, feedback pages and a class report",
        description="Grade every student's notebooks: only their answer cells (tagged exercise) are run, inside "
                    "the course's own student edition, in a sandboxed kernel each (bubblewrap where installed). "
                    "A second run regrades only submissions that changed.")
    grade.add_argument("submissions", help="a folder with one folder per student (alice/01_....ipynb), or a flat "
                                           "folder of LMS downloads with --student-pattern")
    grade.add_argument("--out", required=True, help="folder for gradebook.csv, grades_long.csv, feedback/ and "
                                                    "report.html (created if needed)")
    grade.add_argument("--student-pattern", metavar="REGEX",
                       help="take the student out of each file name of a flat folder: the group `student` or "
                            "the first group, e.g. '^(?P<student>[^_]+)_'")
    grade.add_argument("--timeout", type=whole_number(10, what="--timeout"), default=600, metavar="SECONDS",
                       help="seconds allowed per notebook (default 600); an answer cell gets at most 120")
    grade.add_argument("--memory", type=whole_number(512, what="--memory"), default=6144, metavar="MiB",
                       help="memory allowed per kernel, in MiB (default 6144)")
    grade.add_argument("--preset", choices=presets.PRESET_NAMES, default="smoke",
                       help="the preset the notebooks run in while graded (default smoke: seconds per notebook)")
    grade.add_argument("--jobs", type=whole_number(1, MAX_JOBS, "--jobs"), default=1,
                       help=f"submissions graded at the same time on this machine (1 to {MAX_JOBS})")
    grade.add_argument("--cluster", metavar="ADDRESS",
                       help="grade on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (pip install \".[cluster]\")")
    grade.set_defaults(handler=command_grade)

    execute = commands.add_parser("execute", help="re-execute notebooks in place and stamp them")
    execute.add_argument("notebooks", nargs="*")
    execute.add_argument("--preset", choices=presets.PRESET_NAMES, default=presets.DEFAULT_PRESET)
    execute.add_argument("--cluster", metavar="ADDRESS",
                         help="execute the batch on one worker of an existing Dask cluster (e.g. its GPU node), "
                              "which shares this checkout")
    execute.set_defaults(handler=command_execute)

    release = commands.add_parser("release", help="cut a release: version, badges and links (notebooks, README, "
                                                  "docs), setup cells, outputs, student edition, tag")
    release.add_argument("version", help="the new version, e.g. 0.2.0 (tagged v0.2.0)")
    release.set_defaults(handler=command_release)

    site = commands.add_parser("site", help="build the course website from the committed notebooks")
    site.add_argument("--out", default="site", help="folder for the website (default: site)")
    site.set_defaults(handler=command_site)

    for command_parser in commands.choices.values():
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def _terminate(signal_number: int, frame: object) -> None:
    raise SystemExit(EXIT_TERMINATED)  # unwinds like Ctrl-C, so temporary files are removed


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Options may come before, between or after notebook names: arguments that
    the first pass leaves over are parsed again by the command's own parser,
    which takes options and names in any order. Bad input ends with one
    ``error:`` line saying what to do and exit status 2, never a traceback;
    ``kill`` (SIGTERM) and Ctrl-C clean up before exiting.
    """
    argv = sys.argv[1:] if argv is None else argv
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        parser = build_parser()
        args, left_over = parser.parse_known_args(argv)
        if left_over:
            args = args.command_parser.parse_intermixed_args(argv[argv.index(args.command) + 1:])
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was kept.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CommandError, ValueError, OSError, DataDownloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a bug: one line, not a traceback a learner cannot act on
        print(f"error: the course hit an unexpected {type(error).__name__}: {error}. This is a bug; "
              "please report it with the command you ran.", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
