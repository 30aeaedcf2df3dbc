"""Where is this notebook running, and with what? The setup cell's helper.

Every notebook's first code cell calls :func:`setup_notebook`, which prints the
environment (Python, torch, torchvision, device, runtime) and sets the course's
figure style: small figures, sharp on modern screens, with labels you can read.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

from helpers import __version__


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


COURSE_FIGURE_STYLE = {
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
    import matplotlib
    import matplotlib.pyplot  # noqa: F401  # the inline backend applies its rc settings on import

    matplotlib.rcParams.update(COURSE_FIGURE_STYLE)


def setup_notebook() -> None:
    """Prepare a notebook: the course's figure style, then print the environment."""
    use_course_figure_style()
    print(environment_report())
