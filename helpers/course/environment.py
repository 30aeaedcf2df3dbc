"""Where is this notebook running, and with what? The setup cell's helper.

Every notebook's first code cell installs the course package in Colab and Kaggle
(one shell line that does nothing elsewhere), then calls :func:`setup`. That
checks the course's requirements (in Colab and Kaggle it installs the missing
ones, never changing the runtime's torch), sets the course's figure style (small
figures, sharp on modern screens, with labels you can read) and prints the
environment (Python, torch, torchvision, device, runtime). When the notebook
cannot start, :class:`SetupError` says why and what to do, without a traceback.
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from helpers import __version__
from helpers.course.facts import MINIMUM_TORCH, PINNED_REF, REPOSITORY_URL

DISTRIBUTION = "runnable-pytorch-cheatsheet"
"""The course package's name on pip's side (``helpers`` on Python's)."""
KEPT_AS_INSTALLED = ("torch", "torchvision")
"""Packages pip is told to keep at the runtime's versions: a new torch would not match its GPU drivers."""


def detect_runtime() -> str:
    """Return ``"colab"``, ``"kaggle"`` or ``"local"``.

    Colab is recognised by its ``google.colab`` module, Kaggle by the
    ``KAGGLE_KERNEL_RUN_TYPE`` variable it sets in every notebook.

    Example:
        >>> detect_runtime()  # on a laptop
        'local'
    """
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
        return "kaggle"
    return "local"


@dataclass(frozen=True)
class EnvironmentReport:
    """The versions and hardware a notebook runs with."""

    python: str
    torch: str
    torchvision: str
    course: str
    device: str
    device_detail: str
    runtime: str

    def __str__(self) -> str:
        return "\n".join(
            f"{label:<12}{value}"
            for label, value in [
                ("Python", self.python),
                ("torch", self.torch),
                ("torchvision", self.torchvision),
                ("course", self.course),
                ("device", f"{self.device} ({self.device_detail})"),
                ("runtime", self.runtime),
            ]
        )


def environment_report() -> EnvironmentReport:
    """Collect the environment into an :class:`EnvironmentReport`."""
    import torch
    import torchvision

    from helpers.devices import choose_device

    device = choose_device("auto").type
    if device == "cuda":
        detail = torch.cuda.get_device_name(0)
    elif device == "mps":
        detail = "Apple GPU"
    else:
        detail = f"{platform.machine()}, {torch.get_num_threads()} threads"
    return EnvironmentReport(
        python=platform.python_version(),
        torch=torch.__version__,
        torchvision=torchvision.__version__,
        course=__version__,
        device=device,
        device_detail=detail,
        runtime=detect_runtime(),
    )


COURSE_FIGURE_STYLE: dict[str, Any] = {
    "figure.figsize": (5.0, 3.2), "figure.dpi": 110, "savefig.dpi": 110,
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 10,
    "ytick.labelsize": 10, "legend.fontsize": 10, "axes.grid": True, "grid.alpha": 0.3,
}
"""Small figures (550 x 352 px) at 110 dpi, so they stay light in committed notebooks, with 10 pt labels."""


def use_course_figure_style() -> None:
    """Apply :data:`COURSE_FIGURE_STYLE` after pyplot has chosen its backend (which sets its own defaults).

    Example:
        >>> use_course_figure_style(); import matplotlib; matplotlib.rcParams["figure.dpi"]
        110.0
    """
    import matplotlib.pyplot as plt  # the inline backend applies its rc settings on import

    plt.style.use(COURSE_FIGURE_STYLE)


class SetupError(RuntimeError):
    """A notebook that cannot start: the message says why and what to do.

    Jupyter shows it as that message alone, without a traceback (IPython asks an
    exception for ``_render_traceback_`` before it formats one).

    Example:
        >>> SetupError("torch is missing.")._render_traceback_()
        ['Setup stopped: torch is missing.']
    """

    def _render_traceback_(self) -> list[str]:
        return [f"Setup stopped: {self}"]


def requirement_name(requirement: str) -> str:
    """Return the project a requirement names.

    Example:
        >>> requirement_name("torch>=2.7"), requirement_name("scikit-learn >= 1.3 ; python_version > '3'")
        ('torch', 'scikit-learn')
    """
    return re.split(r"[^A-Za-z0-9._-]", requirement.strip(), maxsplit=1)[0].lower()


def missing_requirements(distribution: str = DISTRIBUTION) -> list[str]:
    """Return the course package's requirements (not its extras) that are missing or too old here.

    Nothing is missing when the package is not installed at all (a checkout on
    ``sys.path``): there is then no list to compare with.

    Example:
        >>> missing_requirements()  # in the course's own environment
        []
    """
    try:
        wanted = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging is a requirement too: install it first, then look again
        return [text for text in wanted if requirement_name(text) == "packaging"]
    missing = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra's requirement, or one for another platform
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def install_requirements(requirements: list[str]) -> None:
    """Install ``requirements`` with pip into this kernel's Python, keeping its torch and torchvision as they are.

    Raises:
        SetupError: pip failed; the message gives its last words and the likely causes.
    """
    kept = []
    for name in KEPT_AS_INSTALLED:
        try:
            kept.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    print(f"Installing what the course needs besides ({', '.join(requirements)}); torch and torchvision stay "
          "as they are ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *requirements, *kept],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        said = (pip.stdout + pip.stderr).strip().splitlines()[-3:]
        raise SetupError("the course's requirements did not install (pip said: " + " / ".join(said) + "). "
                         "Likely causes: no internet (in Kaggle, turn Internet on under Settings), or the "
                         f"package index out of reach (try again later). Read {REPOSITORY_URL}#troubleshooting")
    importlib.invalidate_caches()


def check_requirements(runtime: str | None = None) -> None:
    """Make sure the course's requirements are met: in Colab and Kaggle install what is missing, else say what to do.

    Raises:
        SetupError: torch or torchvision is missing or older than the course supports, a requirement is
            missing on this machine, or pip failed.
    """
    runtime = runtime or detect_runtime()
    missing = missing_requirements()
    for _ in range(2):  # a second round where packaging itself was missing, so nothing else could be compared
        if not missing:
            return
        refuse_to_install(missing, runtime)
        install_requirements(missing)
        missing = missing_requirements()
    if missing:
        raise SetupError(f"pip ran, but {', '.join(missing)} is still missing. Restart the runtime and run this "
                         f"cell again; if it says the same, read {REPOSITORY_URL}#troubleshooting")


def refuse_to_install(missing: list[str], runtime: str) -> None:
    """Raise :class:`SetupError` for what the setup cell must not install: torch, or anything outside Colab and Kaggle.

    Example:
        >>> refuse_to_install(["tqdm>=4.66"], "colab")  # Colab may install it
        >>> refuse_to_install(["torch>=2.7"], "colab")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        helpers.course.environment.SetupError: this runtime lacks torch>=2.7 ...
    """
    too_old = [text for text in missing if requirement_name(text) in KEPT_AS_INSTALLED]
    if too_old:
        raise SetupError(f"this runtime lacks {' and '.join(too_old)} (the course needs torch {MINIMUM_TORCH} or "
                         "newer), and the course never installs torch itself, since a new torch may not match the "
                         "machine's GPU drivers. Start a current runtime (Colab: Runtime > Disconnect and delete "
                         "runtime; Kaggle: Settings > Environment > Always use latest). Read "
                         f"{REPOSITORY_URL}#troubleshooting")
    if runtime == "local":
        raise SetupError(f"this Python lacks {', '.join(missing)}, which the course needs. In a checkout of the "
                         "course, run `make venv` and choose the .venv kernel, or run `pip install -e .` in the "
                         "checkout's folder with this kernel's Python; then restart the kernel.")


def setup_notebook() -> None:
    """Prepare a notebook: the course's figure style, then print the environment."""
    use_course_figure_style()
    print(environment_report())


def setup() -> None:
    """Set up a notebook (the setup cell's last line): requirements, figure style, and the environment printed.

    Raises:
        SetupError: the notebook cannot start; the message says why and what to do.
    """
    check_requirements()
    try:
        setup_notebook()
    except (ImportError, OSError) as error:  # a broken torch (a CUDA library missing, a half-done install)
        raise SetupError(f"torch or torchvision does not import ({type(error).__name__}: {error}). Run "
                         "`python -m helpers doctor` in a terminal for a full diagnosis, or reinstall them; in "
                         f"Colab or Kaggle, restart the runtime. Course release {PINNED_REF}.") from None
