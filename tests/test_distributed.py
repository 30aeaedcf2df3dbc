"""helpers.distributed: DDP with 2 processes on CPU matches one process with the same global batch."""

import itertools
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from helpers import distributed
from helpers.distributed import RunConfig

DDP_TOLERANCE = 1e-5
"""Max abs weight difference allowed between DDP and one process: float32 sums in another order."""


def test_backend_follows_the_device():
    assert distributed.backend_for("cuda") == "nccl"
    assert distributed.backend_for(torch.device("cuda", 1)) == "nccl"
    assert distributed.backend_for("cpu") == "gloo"


def test_effective_batch_size():
    assert distributed.effective_batch_size(16, 2) == 32
    assert distributed.effective_batch_size(32, world_size=4, accumulation_steps=2) == 256


def test_without_a_process_group_this_process_is_the_main_one():
    assert not dist.is_initialized()
    assert distributed.is_main_process()


def test_data_and_model_are_the_same_for_the_same_seed():
    first, second = distributed.make_regression_data(32, 4, seed=3), distributed.make_regression_data(32, 4, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first.tensors, second.tensors))
    weights = [distributed.make_tiny_model(4, seed=3).state_dict() for _ in range(2)]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_the_ranks_together_see_each_global_batch_of_the_single_process_run():
    per_process, world_size, samples = 4, 2, 32
    single = list(DistributedSampler(range(samples), num_replicas=1, rank=0, shuffle=True, seed=0))
    shards = [list(DistributedSampler(range(samples), num_replicas=world_size, rank=rank, shuffle=True, seed=0))
              for rank in range(world_size)]
    global_batch = per_process * world_size
    for step in range(samples // global_batch):
        local_batches = [shard[step * per_process:(step + 1) * per_process] for shard in shards]
        assert sorted(itertools.chain.from_iterable(local_batches)) == sorted(single[step * global_batch:(step + 1) * global_batch])


def test_single_process_training_lowers_the_loss():
    model, losses = distributed.train_single_process(RunConfig(epochs=3))
    assert losses[-1] < losses[0] / 2
    first_loss = distributed.mean_squared_error(distributed.make_tiny_model(8), distributed.make_regression_data(512, 8))
    assert distributed.mean_squared_error(model, distributed.make_regression_data(512, 8)) < first_loss / 2


def test_the_command_uses_the_loopback_address_only():
    command = distributed.torchrun_command(2, RunConfig(epochs=1), port=29500)
    assert command[command.index("--master-addr") + 1] == "127.0.0.1"
    assert command[command.index("--nproc-per-node") + 1] == "2"
    assert command[command.index("--epochs") + 1] == "1"
    environment = distributed.loopback_environment()
    assert environment["MASTER_ADDR"] == "127.0.0.1" and environment["GLOO_SOCKET_IFNAME"].startswith("lo")
    assert 0 < distributed.free_loopback_port() < 65536


def test_arguments_round_trip_through_the_command_line():
    config = RunConfig(samples=64, batch_size=8, epochs=3, learning_rate=0.2, seed=5)
    arguments = distributed.torchrun_command(2, config, port=1, device="cpu")
    script_arguments = arguments[arguments.index("helpers.distributed") + 1:]
    assert distributed.parse_arguments(script_arguments) == (config, "cpu", None)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process_with_the_same_global_batch(tmp_path):
    config = RunConfig(samples=256, batch_size=8, epochs=2)
    checkpoint = tmp_path / "ddp_final.pt"
    printed = distributed.launch_torchrun(2, config, checkpoint, timeout=180)
    assert "rank 0 of 2" in printed and "rank 1 of 2" in printed
    assert printed.count("epoch 2/2") == 1  # only rank 0 logs
    ddp_weights = torch.load(checkpoint, weights_only=True)
    model, losses = distributed.train_single_process(config, world_size=2)
    difference = max((ddp_weights[name] - value).abs().max().item() for name, value in model.state_dict().items())
    assert difference < DDP_TOLERANCE
    assert f"epoch 2/2: loss {losses[-1]:.4f}" in printed  # the all-reduced loss is the global one


HOGWILD_IN_A_NEW_PROCESS = """
from helpers import distributed
dataset = distributed.make_regression_data(256, 8)
model = distributed.make_tiny_model(8)
before = distributed.mean_squared_error(model, dataset)
distributed.train_hogwild(model, dataset, processes=2, steps=60)
print(before, distributed.mean_squared_error(model, dataset))
"""


@pytest.mark.slow
def test_hogwild_workers_train_the_shared_model():
    # In a new process, as in a new kernel: forked workers fail once their parent has started autograd's
    # threads, which earlier tests in the same pytest worker can do (the export probes, then a training check).
    finished = subprocess.run([sys.executable, "-c", HOGWILD_IN_A_NEW_PROCESS], capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    before, after = map(float, finished.stdout.split())
    assert after < before / 2


def test_a_run_past_its_timeout_is_stopped_with_a_clear_error():
    with pytest.raises(TimeoutError, match=r"more than 0\.5 s"):
        distributed.launch_torchrun(2, RunConfig(epochs=1), timeout=0.5)


@pytest.mark.slow
def test_a_failing_run_says_what_torchrun_wrote():
    with pytest.raises(RuntimeError, match=r"(?s)torchrun exited with code 1.*batch_size"):
        distributed.launch_torchrun(2, RunConfig(batch_size=0, epochs=1), timeout=180)


@pytest.mark.slow
def test_a_port_taken_in_the_meantime_is_retried_on_another(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], distributed.free_loopback_port()])
        monkeypatch.setattr(distributed, "free_loopback_port", lambda: next(ports))
        printed = distributed.launch_torchrun(2, RunConfig(samples=64, epochs=1), timeout=180)
    assert "epoch 1/1" in printed
