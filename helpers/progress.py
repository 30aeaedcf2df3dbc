"""Progress bars that read well live and once a notebook is saved: the course's one set of tqdm options."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sized
from typing import Any, TypeVar

from tqdm.std import tqdm

Item = TypeVar("Item")
TEXT_BAR_OPTIONS: dict[str, Any] = {"ncols": 110, "mininterval": 0.5}
"""Every progress bar of the library: 110 columns wide, redrawn at most twice a second (and on stdout)."""


def text_bar(iterable: Iterable[Item] | None = None, **options: Any) -> tqdm:
    """Return a ``tqdm`` text bar with the course's options, on the ``sys.stdout`` of the moment.

    Example:
        >>> with text_bar(total=3, desc="images", unit="img", disable=True) as bar:
        ...     bar.total
        3
    """
    return tqdm(iterable, file=sys.stdout, **TEXT_BAR_OPTIONS, **options)


def progress_bar(iterable: Iterable[Item] | None = None, desc: str = "", total: int | None = None,
                 disable: bool = False) -> tqdm:
    """Return a text progress bar that reads well live and once a notebook is saved.

    Text bars (``tqdm.std``, what ``from tqdm import tqdm`` gives) rather than
    ``tqdm.auto``: they update in place in JupyterLab, Colab, Kaggle and a
    terminal, need no ipywidgets (without it ``tqdm.auto`` prints a warning into
    the notebook), and a saved notebook keeps their last state as one line of
    plain text. They write to stdout, so notebooks do not colour them as errors.

    Example:
        >>> for batch in progress_bar(range(3), desc="train"):  # doctest: +SKIP
        ...     pass
        train: 100%|██████████| 3/3 [00:00<00:00, ...]
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    return text_bar(iterable, desc=desc, total=total, disable=disable)
