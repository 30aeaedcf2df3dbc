"""Recorded figures: the numbers a notebook's prose promises, kept in the notebook.

``record("fitted_slope", 2.98)`` prints the figure and stores it as a display
output with its own MIME type. The executed notebook then carries its key
results, where the tests assert them and the instructors' report lists them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

RECORD_MIME_TYPE = "application/vnd.pytorch-course.record+json"


def _plain(value: Any) -> Any:
    """Turn tensors, NumPy scalars and tuples into JSON-friendly Python values."""
    if hasattr(value, "tolist"):  # torch.Tensor and NumPy arrays and scalars
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None  # JSON has no NaN: an undefined figure is None
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    raise TypeError(f"Cannot record a {type(value).__name__}; record numbers, strings or lists of them.")


def _format(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return repr(value)


def record(name: str, value: Any, text: str | None = None) -> None:
    """Show a figure and store it in the notebook under ``name``.

    ``text`` replaces the printed line (``recorded name = value``) when given.

    Example:
        >>> record("fitted_slope", torch.tensor(2.98))  # doctest: +SKIP
        recorded fitted_slope = 2.98
    """
    import IPython
    from IPython.display import display

    plain = _plain(value)
    line = text or f"recorded {name} = {_format(plain)}"
    if IPython.get_ipython() is None:  # plain Python: there is no notebook to store it in
        print(line)
        return
    display({"text/plain": line, RECORD_MIME_TYPE: {"name": name, "value": plain}}, raw=True)


def read_records(notebook: Any) -> dict[str, Any]:
    """Return every figure an executed notebook recorded, by name (the last one wins).

    ``notebook`` is a notebook node as ``nbformat.read`` returns it.
    """
    records: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RECORD_MIME_TYPE in data:
                item = data[RECORD_MIME_TYPE]
                records[item["name"]] = item["value"]
    return records
