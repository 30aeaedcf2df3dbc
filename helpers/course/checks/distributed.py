"""Checks for the exercises of notebook 12, distributed training."""

from __future__ import annotations

from torch.utils.data import DistributedSampler

import torch

from helpers.course.checks import Verdict, as_number, call_learner_function, exercise_check, kind_of, number_problem


@exercise_check
def global_batch_size(answer: object) -> Verdict:
    """The answer is 32 per GPU x 4 GPUs x 2 accumulation steps = 256 samples per optimizer step."""
    problem = number_problem(answer, "a whole number of samples")
    if problem:
        return False, problem
    answer = as_number(answer)
    if answer == 256:
        return True, ""
    if answer == 128:
        return False, "that is one backward pass on all 4 GPUs; the optimizer steps only every 2 of them."
    if answer in (32, 64):
        return False, "each GPU sees only its own 32; every process's gradients are averaged into one step."
    if answer == 32 * 4 + 2 or answer == 32 * 2 + 4:
        return False, "the numbers multiply: each of the 4 GPUs takes 32 samples, twice, before one step."
    return False, f"got {answer}; multiply the per-process batch by the number of processes and the accumulation steps."


@exercise_check
def logs_on_rank_zero(answer: object) -> Verdict:
    """The answer is a function of a rank that is True for rank 0 only."""
    if not callable(answer):
        return False, f"expected a function of the rank, like `def should_log(rank): ...`, got {kind_of(answer)}."
    results = {}
    for rank in range(8):
        results[rank], failure = call_learner_function(answer, rank)
        if failure:
            return False, f"{failure} (for rank {rank}). It is called with one number, the rank."
    if all(result is None for result in results.values()):
        return False, "your function returns None: return True or False (return rank == 0)."
    verdicts = {rank: bool(result) for rank, result in results.items()}
    if verdicts[0] and not any(verdicts[rank] for rank in range(1, 8)):
        return True, ""
    if all(verdicts.values()):
        return False, "every process would print the same line and write the same checkpoint file."
    return False, "rank 0 always exists, whatever the world size: let rank 0 alone log and save."


def sampler_indices(samples: int, world_size: int, rank: int, epoch: int, seed: int = 0) -> list[int]:
    """Return the indices a shuffling DistributedSampler gives ``rank`` in ``epoch``."""
    sampler = DistributedSampler(range(samples), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


@exercise_check
def second_epoch_indices(answer: object) -> Verdict:
    """The answer is what rank 1 of 2 draws in epoch 1 from 8 samples, shuffled with seed 0."""
    if isinstance(answer, torch.utils.data.Sampler):
        return False, "that is the sampler itself; list what it draws: list(sampler)."
    if isinstance(answer, str) or not isinstance(answer, (list, tuple, torch.Tensor)):
        return False, f"expected a list of indices such as [3, 0, 5, 1], got {kind_of(answer)}."
    answer = [int(index) for index in answer]  # a list, a tuple or a tensor of indices
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=1):
        return True, ""
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=0):
        return False, "that is epoch 0's order: call sampler.set_epoch(1) before reading the indices."
    if answer == list(range(1, 8, 2)):
        return False, "that is the order without shuffling: make the sampler with shuffle=True, seed=0."
    if answer == sampler_indices(8, world_size=2, rank=0, epoch=1):
        return False, "those are rank 0's indices; make the sampler with rank=1."
    return False, "make the sampler for rank 1 of 2 processes with shuffle=True and seed=0, and call set_epoch(1) before listing it."
