"""Where is this notebook running, and with what? The setup cell's helper.

Every notebook's first code cell calls :func:`setup_notebook`, which prints the
environment (Python, torch, torchvision, device, runtime) and sets small figure
sizes so that committed notebooks stay light.
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


def use_small_figures() -> None:
    """Make matplotlib figures small and light, so committed notebooks stay small."""
    import matplotlib

    matplotlib.rcParams.update({"figure.figsize": (5.0, 3.2), "figure.dpi": 72,
                                "savefig.dpi": 72, "axes.grid": True, "grid.alpha": 0.3})


def setup_notebook() -> None:
    """Prepare a notebook: small figures, then print the environment."""
    use_small_figures()
    print(environment_report())
