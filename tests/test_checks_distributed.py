"""The checks of notebook 12 accept the reference solutions and reject typical wrong answers."""

import torch
from torch.utils.data import DistributedSampler

from helpers.course.checks import UNANSWERED_HINT
from helpers.course.checks import distributed as check


def test_global_batch_size():
    assert check.global_batch_size.judge(32 * 4 * 2) == (True, "")
    assert "every 2" in check.global_batch_size.judge(128)[1]
    assert "its own 32" in check.global_batch_size.judge(32)[1]
    assert not check.global_batch_size.judge(512)[0]
    assert check.global_batch_size.judge(None) == (False, UNANSWERED_HINT)


def test_logs_on_rank_zero():
    assert check.logs_on_rank_zero.judge(lambda rank: rank == 0)[0]
    assert "every process" in check.logs_on_rank_zero.judge(lambda rank: True)[1]
    assert not check.logs_on_rank_zero.judge(lambda rank: rank == 1)[0]
    assert not check.logs_on_rank_zero.judge(lambda rank: rank == 7)[0]
    assert "function" in check.logs_on_rank_zero.judge(0)[1]


def test_second_epoch_indices():
    sampler = DistributedSampler(range(8), num_replicas=2, rank=1, shuffle=True, seed=0)
    sampler.set_epoch(1)
    solution = list(sampler)
    assert check.second_epoch_indices.judge(solution)[0]
    assert check.second_epoch_indices.judge(torch.tensor(solution))[0]
    assert "set_epoch(1)" in check.second_epoch_indices.judge(check.sampler_indices(8, 2, rank=1, epoch=0))[1]
    assert "rank 0" in check.second_epoch_indices.judge(check.sampler_indices(8, 2, rank=0, epoch=1))[1]
    assert not check.second_epoch_indices.judge([1, 3, 5, 7])[0]


def test_the_epochs_and_ranks_differ_so_the_hints_can_tell_them_apart():
    epoch_1_rank_1 = check.sampler_indices(8, 2, rank=1, epoch=1)
    assert epoch_1_rank_1 != check.sampler_indices(8, 2, rank=1, epoch=0)
    assert epoch_1_rank_1 != check.sampler_indices(8, 2, rank=0, epoch=1)
