"""Checks for the exercises of notebook 12, distributed training."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from helpers.course.checks import Verdict, as_number_list, call_learner_function, exercise_check, kind_of
from helpers.distributed import RunConfig, effective_batch_size, make_regression_data, make_tiny_model, train_epochs

SAME_RUN_TOLERANCE = 1e-5
"""Weights this close come from the same run: float32 rounding in another order, nothing more."""


class _SameOrderEveryEpoch(DistributedSampler):
    """A sampler whose ``set_epoch`` does nothing: the loop of a learner who forgot to call it."""

    def set_epoch(self, epoch: int) -> None:
        pass


def one_process_weights(config: RunConfig, batch_size: int, reshuffle: bool = True) -> dict[str, torch.Tensor]:
    """Return the weights the notebook's one-process loop ends with when each step takes ``batch_size`` samples.

    ``reshuffle=False`` is the loop without ``sampler.set_epoch``: every epoch in the same order.
    """
    dataset = make_regression_data(config.samples, config.features, config.seed)
    model = make_tiny_model(config.features, config.seed)
    sampler_class = DistributedSampler if reshuffle else _SameOrderEveryEpoch
    sampler: DistributedSampler[int] = sampler_class(dataset, num_replicas=1, rank=0, shuffle=True, seed=config.seed)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    train_epochs(model, loader, sampler, optimizer, config.epochs, torch.device("cpu"))
    return model.state_dict()


def largest_difference(weights: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> float:
    """Return the largest absolute difference between two state dicts with the same tensors."""
    return max((weights[name].detach().cpu().float() - value).abs().max().item() for name, value in other.items())


def _as_truth_value(answer: object) -> bool | None:
    """Return ``answer`` as a bool when it is one (Python, NumPy or a one-element bool tensor), else None."""
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    if isinstance(answer, torch.Tensor) and answer.numel() == 1 and answer.dtype == torch.bool:
        return bool(answer.item())
    return None


@exercise_check
def ported_run(answer: object, same_as_ddp: object, config: RunConfig, processes: int) -> Verdict:
    """The answer is the model one process trains with the per-process batch, and the verdict False.

    One process with ``config.batch_size`` per step takes ``processes`` times as many, smaller, steps as
    the DDP run, so it is a different run: its weights end up far from the DDP run's.
    """
    weights = answer.state_dict() if isinstance(answer, nn.Module) else answer
    if not isinstance(weights, dict) or not all(isinstance(value, torch.Tensor) for value in weights.values()):
        return False, f"expected the model you trained (an nn.Module), got {kind_of(answer)}."
    expected = one_process_weights(config, config.batch_size)
    if set(weights) != set(expected) or any(weights[name].shape != value.shape for name, value in expected.items()):
        return False, ("that model has other layers: train make_tiny_model(config.features, config.seed), the model "
                       "the reference run starts from.")
    difference = largest_difference(weights, expected)
    if difference > SAME_RUN_TOLERANCE:
        global_batch = effective_batch_size(config.batch_size, processes)
        if largest_difference(weights, one_process_weights(config, global_batch)) <= SAME_RUN_TOLERANCE:
            return False, (f"these are the DDP run's weights: you trained with the global batch of {global_batch}. "
                           f"The ported run takes batch_size=config.batch_size ({config.batch_size}) samples per step.")
        if largest_difference(weights, make_tiny_model(config.features, config.seed).state_dict()) == 0:
            return False, "that model is untrained: run the training loop on it first."
        same_order_every_epoch = one_process_weights(config, config.batch_size, reshuffle=False)
        if largest_difference(weights, same_order_every_epoch) <= SAME_RUN_TOLERANCE:
            return False, "every epoch ran in the same order: call sampler.set_epoch(epoch) at the start of each epoch."
        return False, (f"your weights are {difference:.1e} away from that run's: train "
                       "make_tiny_model(config.features, config.seed) for config.epochs epochs as the reference loop "
                       "does (same sampler, SGD with config.learning_rate), with batch_size=config.batch_size.")
    if same_as_ddp is None or same_as_ddp is Ellipsis:
        return False, "the model is right; now set answer_same_as_ddp to True or False."
    verdict = _as_truth_value(same_as_ddp)
    if verdict is None:
        return False, f"answer_same_as_ddp should be True or False, got {kind_of(same_as_ddp)}."
    if verdict:
        ddp_like = one_process_weights(config, effective_batch_size(config.batch_size, processes))
        return False, (f"compare the weights: they are {largest_difference(weights, ddp_like):.2g} apart at most, far "
                       f"beyond float32 rounding. {processes} times as many steps, each on fewer samples: another run.")
    return True, ""


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
    numbers = TensorDataset(torch.arange(samples))  # the sampler reads only its length
    sampler: DistributedSampler[int] = DistributedSampler(numbers, num_replicas=world_size, rank=rank, shuffle=True,
                                                          seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


@exercise_check
def second_epoch_indices(answer: object) -> Verdict:
    """The answer is what rank 1 of 2 draws in epoch 1 from 8 samples, shuffled with seed 0."""
    if isinstance(answer, torch.utils.data.Sampler):
        return False, "that is the sampler itself; list what it draws: list(sampler)."
    indices = as_number_list(answer)  # a list, a tuple, an array or a tensor of indices
    if indices is None or any(index != int(index) for index in indices):
        return False, f"expected a list of indices such as [3, 0, 5, 1], got {kind_of(answer)}."
    answer = [int(index) for index in indices]
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=1):
        return True, ""
    if answer == sampler_indices(8, world_size=2, rank=1, epoch=0):
        return False, "that is epoch 0's order: call sampler.set_epoch(1) before reading the indices."
    if answer == list(range(1, 8, 2)):
        return False, "that is the order without shuffling: make the sampler with shuffle=True, seed=0."
    if answer == sampler_indices(8, world_size=2, rank=0, epoch=1):
        return False, "those are rank 0's indices; make the sampler with rank=1."
    return False, ("make the sampler for rank 1 of 2 processes with shuffle=True and seed=0, and call set_epoch(1) "
                   "before listing it.")
