"""Checks for the exercises of notebook 00, start here."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from helpers.course.checks import Verdict, as_shape, exercise_check, kind_of, shape_kind_problem


@exercise_check
def first_tensor(answer: object) -> Verdict:
    """The answer is the tensor [[1, 2, 3], [4, 5, 6]]."""
    if not isinstance(answer, torch.Tensor):
        return False, f"expected a torch.Tensor, got {kind_of(answer)}; wrap the numbers: torch.tensor(...)."
    if tuple(answer.shape) != (2, 3):
        return False, f"expected shape (2, 3), got {tuple(answer.shape)}; try .reshape(2, 3)."
    if not torch.equal(answer.detach().cpu().double(), torch.arange(1, 7).reshape(2, 3).double()):
        return False, "the shape is right but the values are not 1 to 6, row by row."
    return True, ""


@exercise_check
def sum_shape(answer: object) -> Verdict:
    """The answer is the shape of ``torch.zeros(2, 3).sum(dim=0)``: (3,)."""
    shape = as_shape(answer)
    if shape is None:
        return False, shape_kind_problem(answer)
    if shape == (3,):
        return True, ""
    if shape == (2,):
        return False, "dim=0 is the dimension that disappears: the 2 rows are added up, the 3 columns remain."
    if shape in ((1, 3), (2, 3)):
        return False, "summing over a dimension removes it (unless keepdim=True): one dimension is left."
    if shape == ():
        return False, "that is the shape of .sum() over everything; .sum(dim=0) keeps the other dimension."
    return False, f"got {shape}; the zeros are (2, 3) and dim=0 (the rows) is summed away."


def _served_items(loader: Iterable[object]) -> list[list[int]]:
    """Return the numbers ``loader`` serves, batch by batch."""
    batches = []
    for batch in loader:
        if isinstance(batch, (list, tuple)):  # a TensorDataset gives [tensor] per batch
            batch = batch[0]
        batches.append(torch.as_tensor(batch).flatten().tolist())
    return batches


@exercise_check
def batches_of_four(answer: object, numbers: torch.Tensor) -> Verdict:
    """The answer is a DataLoader that serves all of ``numbers`` in batches of 4."""
    if isinstance(answer, str):
        return False, "give the loader itself (torch.utils.data.DataLoader(...)), not a name in quotes."
    if isinstance(answer, type):
        return False, (f"that is the class {answer.__name__}; make a loader from it: "
                       "DataLoader(numbers, batch_size=4).")
    if not isinstance(answer, torch.utils.data.DataLoader):
        return False, f"expected a torch.utils.data.DataLoader, got {kind_of(answer)}."
    batches = _served_items(answer)
    sizes = [len(batch) for batch in batches]
    expected_sizes = [4] * (len(numbers) // 4) + ([len(numbers) % 4] if len(numbers) % 4 else [])
    if sizes and sizes[0] != 4:
        return False, f"the first batch has {sizes[0]} numbers: pass batch_size=4."
    if sizes != expected_sizes:
        return False, (f"the batch sizes are {sizes}, but {len(numbers)} numbers in fours are {expected_sizes}: "
                       "drop_last=True throws the last, smaller batch away; leave it False.")
    if sorted(value for batch in batches for value in batch) != sorted(numbers.tolist()):
        return False, "the loader serves other numbers: build it from `numbers`."
    return True, ""
