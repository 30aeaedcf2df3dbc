"""Checks for the exercises of notebook 12, distributed training."""

from __future__ import annotations

from torch.utils.data import DistributedSampler

from helpers.course.checks import Verdict, exercise_check


@exercise_check
def global_batch_size(answer: object) -> Verdict:
    """The answer is 32 per GPU x 4 GPUs x 2 accumulation steps = 256 samples per optimizer step."""
    if answer == 256:
        return True, ""
    if answer == 128:
        return False, "that is one backward pass on all 4 GPUs; the optimizer steps only every 2 of them."
    if answer in (32, 64):
        return False, "each GPU sees only its own 32; every process's gradients are averaged into one step."
    return False, f"got {answer}; multiply the per-process batch by the number of processes and the accumulation steps."


@exercise_check
def logs_on_rank_zero(answer: object) -> Verdict:
    """The answer is a function of a rank that is True for rank 0 only."""
    if not callable(answer):
        return False, f"expected a function of the rank, like `def should_log(rank): ...`, got a {type(answer).__name__}."
    verdicts = {rank: bool(answer(rank)) for rank in range(8)}
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
    answer = [int(index) for index in answer]  # a list, a tuple or a tensor of indices
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=1):
        return True, ""
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=0):
        return False, "that is epoch 0's order: call sampler.set_epoch(1) before reading the indices."
    if answer == sampler_indices(8, world_size=2, rank=0, epoch=1):
        return False, "those are rank 0's indices; make the sampler with rank=1."
    return False, "make the sampler for rank 1 of 2 processes with shuffle=True and seed=0, and call set_epoch(1) before listing it."
