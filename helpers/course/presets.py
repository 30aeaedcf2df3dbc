"""Presets: one switch that sizes every notebook for where it runs.

* ``smoke``: CI and the tests; seconds per notebook on 2 CPU cores.
* ``class``: a learner's CPU laptop; at most a few minutes per notebook.
* ``full``: a GPU runtime (Colab, Kaggle) with the real NIH data.

A notebook's ``parameters`` cell declares ``PRESET = None`` and its knobs, each
``None`` meaning "the preset's value". Papermill can inject any of them; when
nothing is injected, the environment variable ``COURSE_PRESET`` picks the
preset (nbval cannot inject parameters), and ``class`` is the default.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

PRESET_NAMES = ("smoke", "class", "full")
DEFAULT_PRESET = "class"
PRESET_ENV_VAR = "COURSE_PRESET"


@dataclass(frozen=True)
class Settings:
    """The knobs a notebook may use, resolved for one preset."""

    preset: str
    images_per_class: int
    """How many images of each class the synthetic data set has."""
    image_size: int
    """Side in pixels of the images the model sees."""
    batch_size: int
    epochs: int
    learning_rate: float
    """Adam's step size for the small CNN that notebooks 06, 08 and 11 train (``helpers.models.make_small_cnn``)."""
    steps: int
    """Optimisation steps for the small from-scratch examples (notebook 01)."""
    device: str
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU."""
    seed: int
    data_dir: str | None
    """Where data sets live; ``None`` means the course's data folder."""
    use_real_data: bool
    """Whether notebooks that train use the real NIH data instead of synthetic cells."""
    num_workers: int | None
    """Processes that load images for the data loaders; ``None``: one per CPU core (see ``make_loaders``)."""
    valid_fraction: float
    """Share of the images (whole patients) held out for validation."""
    test_fraction: float
    """Share of the images (whole patients) held out for the final test. ``class`` holds out more than the
    cheat sheet's 10% so that its test set has over 1,000 images: enough to tell two models apart."""
    cache_images: bool
    """Whether ``make_loaders`` decodes each image file once and keeps it in memory (``DecodedImages``): the same
    batches, faster; ``False`` for the real NIH data, which would not fit."""


PRESETS: dict[str, Settings] = {
    "smoke": Settings("smoke", images_per_class=48, image_size=32, batch_size=16, epochs=1,
                      learning_rate=0.001, steps=60, device="auto", seed=0, data_dir=None, use_real_data=False,
                      num_workers=0, valid_fraction=0.2, test_fraction=0.1, cache_images=True),
    "class": Settings("class", images_per_class=1400, image_size=64, batch_size=32, epochs=5,
                      learning_rate=0.001, steps=300, device="auto", seed=0, data_dir=None, use_real_data=False,
                      num_workers=0, valid_fraction=0.18, test_fraction=0.36, cache_images=True),
    "full": Settings("full", images_per_class=13_779, image_size=224, batch_size=64, epochs=5,
                     learning_rate=0.001, steps=1000, device="auto", seed=0, data_dir=None, use_real_data=True,
                     num_workers=None, valid_fraction=0.2, test_fraction=0.1, cache_images=False),
}


def preset_name(preset: str | None = None) -> str:
    """Return the preset to use: the argument, else ``COURSE_PRESET``, else ``class``.

    Example:
        >>> preset_name("smoke")
        'smoke'
    """
    name = preset or os.environ.get(PRESET_ENV_VAR) or DEFAULT_PRESET
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Use one of {', '.join(PRESET_NAMES)} "
            f"(set PRESET in the parameters cell or the {PRESET_ENV_VAR} environment variable)."
        )
    return name


def resolve_settings(preset: str | None = None, **overrides: object) -> Settings:
    """Return the preset's settings with every override that is not ``None`` applied.

    A notebook passes its parameters straight through, so ``EPOCHS = None``
    keeps the preset's value and ``EPOCHS = 3`` replaces it.

    Example:
        >>> resolve_settings("smoke", epochs=3, image_size=None).epochs
        3
    """
    settings = PRESETS[preset_name(preset)]
    known = set(asdict(settings)) - {"preset"}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"Unknown setting(s) {sorted(unknown)}; known ones are {sorted(known)}.")
    chosen: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    return replace(settings, **chosen)
