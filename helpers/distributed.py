"""Distributed training, as notebook 12 taught it: DistributedDataParallel launched by torchrun.

* :func:`backend_for` picks the communication backend: ``nccl`` on CUDA GPUs, ``gloo`` on CPUs.
* :func:`effective_batch_size` is what one optimizer step sees: per-process batch x processes.
* :func:`train_epochs` is the training loop every process runs, with a :class:`DistributedSampler`
  and ``set_epoch`` around the engine's :func:`~helpers.engine.train_one_epoch`;
  :func:`train_single_process` runs it in one process, for comparison.
* :func:`main` is the program ``torchrun`` starts once per process:
  ``init_process_group``, wrap the model in ``DistributedDataParallel``, train, log and save on
  rank 0 only (with :func:`helpers.checkpoints.save_atomically`), ``destroy_process_group``.
  :func:`launch_torchrun` starts it from Python.
* :func:`train_hogwild` is the other way the cheat sheet mentions: ``torch.multiprocessing``
  processes updating one model in shared memory, without locks.

Launch by hand, on one machine, on the loopback address only::

    python -m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 --master-port 29500 \\
        -m helpers.distributed --epochs 2 --batch-size 16 --checkpoint ddp_final.pt
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from helpers.checkpoints import save_atomically
from helpers.engine import train_one_epoch

LOOPBACK_ADDRESS = "127.0.0.1"
"""The only address the course's runs use: this machine talking to itself."""


@dataclass(frozen=True)
class RunConfig:
    """What a training run needs; the same values in every process."""

    samples: int = 512
    features: int = 8
    batch_size: int = 16
    """Per process: each process sees this many samples per step."""
    epochs: int = 2
    learning_rate: float = 0.1
    seed: int = 0


def backend_for(device: str | torch.device) -> str:
    """Return the ``torch.distributed`` backend for a device type: NCCL for CUDA, gloo otherwise.

    Example:
        >>> backend_for("cuda"), backend_for("cpu")
        ('nccl', 'gloo')
    """
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def effective_batch_size(per_process_batch_size: int, world_size: int, accumulation_steps: int = 1) -> int:
    """Return how many samples one optimizer step averages over, across all processes.

    Example:
        >>> effective_batch_size(32, world_size=4, accumulation_steps=2)
        256
    """
    return per_process_batch_size * world_size * accumulation_steps


def is_main_process() -> bool:
    """Return whether this process should log and save: rank 0, or the only process there is.

    Example:
        >>> is_main_process()  # no process group: a plain single-process run
        True
    """
    return not dist.is_initialized() or dist.get_rank() == 0


def make_regression_data(samples: int, features: int, seed: int = 0) -> TensorDataset:
    """Return a small regression data set, the same in every process that asks with the same seed.

    Example:
        >>> inputs, targets = make_regression_data(64, 8).tensors
        >>> tuple(inputs.shape), tuple(targets.shape)
        ((64, 8), (64, 1))
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, features, generator=generator)
    true_weights = torch.randn(features, 1, generator=generator)
    targets = torch.tanh(inputs @ true_weights) + 0.05 * torch.randn(samples, 1, generator=generator)
    return TensorDataset(inputs, targets)


def make_tiny_model(features: int, seed: int = 0) -> nn.Sequential:
    """Return a two-layer network with the same initial weights for the same seed.

    Example:
        >>> make_tiny_model(8)(torch.zeros(3, 8)).shape
        torch.Size([3, 1])
    """
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 16), nn.Tanh(), nn.Linear(16, 1))


def mean_squared_error(model: nn.Module, dataset: TensorDataset) -> float:
    """Return the model's mean squared error over the whole data set."""
    inputs, targets = dataset.tensors
    with torch.no_grad():
        return F.mse_loss(model(inputs), targets).item()


def train_epochs(model: nn.Module, loader: DataLoader, sampler: DistributedSampler,
                 optimizer: torch.optim.Optimizer, epochs: int, device: torch.device) -> list[float]:
    """Train for ``epochs`` and return each epoch's mean loss over all processes.

    Each epoch is the engine's :func:`helpers.engine.train_one_epoch` with the
    mean squared error (the accuracy it also returns means nothing for
    regression). In a DDP run every process calls this with its own shard of
    the data; ``backward()`` averages the gradients across processes, so every
    copy of the model takes the same step.
    """
    epoch_losses = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same one in every process
        loss, _ = train_one_epoch(model, loader, nn.MSELoss(), optimizer, device)
        if dist.is_initialized():  # each process saw only its shard, all shards equally long: average them
            mean = torch.tensor(loss, device=device, dtype=torch.float64)
            dist.all_reduce(mean)
            loss = mean.item() / dist.get_world_size()
        epoch_losses.append(loss)
    return epoch_losses


def train_single_process(config: RunConfig, world_size: int = 2) -> tuple[nn.Module, list[float]]:
    """Train in this process with the global batch a ``world_size``-process DDP run would use.

    A :class:`DistributedSampler` for one replica yields the same shuffled order
    as the DDP run's samplers together, so the two runs see the same global batches.

    Example:
        >>> model, losses = train_single_process(RunConfig(epochs=1))
        >>> len(losses)
        1
    """
    dataset = make_regression_data(config.samples, config.features, config.seed)
    model = make_tiny_model(config.features, config.seed)
    sampler: DistributedSampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=config.seed)
    global_batch_size = effective_batch_size(config.batch_size, world_size)
    loader = DataLoader(dataset, batch_size=global_batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    losses = train_epochs(model, loader, sampler, optimizer, config.epochs, torch.device("cpu"))
    return model, losses


def say(line: str) -> None:
    """Print ``line`` in one write, so that lines from several processes never break into each other."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def device_for_this_process(device_type: str) -> torch.device:
    """Return this process's device: its own GPU (``LOCAL_RANK``) for ``cuda``, else the CPU."""
    if device_type != "cuda":
        return torch.device("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def train_ddp(config: RunConfig, device: torch.device, checkpoint: Path | None) -> list[float]:
    """Train with DistributedDataParallel in an initialised process group; rank 0 logs and saves."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    dataset = make_regression_data(config.samples, config.features, config.seed)
    model = make_tiny_model(config.features, config.seed).to(device)
    # DDP also copies rank 0's weights to every process here, so all start identical.
    ddp_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler: DistributedSampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                                     seed=config.seed)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(ddp_model.parameters(), lr=config.learning_rate)
    say(f"rank {rank} of {world_size}: {len(sampler)} samples, {len(loader)} batches of "
        f"{config.batch_size} per epoch, on {device.type}")
    losses = train_epochs(ddp_model, loader, sampler, optimizer, config.epochs, device)
    if is_main_process():
        global_batch = effective_batch_size(config.batch_size, world_size)
        for epoch, loss in enumerate(losses, start=1):
            say(f"epoch {epoch}/{config.epochs}: loss {loss:.4f} (global batch {global_batch})")
        if checkpoint is not None:
            # ddp_model.module is the plain model: its state_dict loads without DDP. Written atomically, so a
            # reader never sees half a file.
            save_atomically({name: t.cpu() for name, t in ddp_model.module.state_dict().items()}, checkpoint)
            say(f"rank 0 saved the final weights to {checkpoint.name}")
    return losses


def parse_arguments(argv: list[str] | None = None) -> tuple[RunConfig, str, Path | None]:
    """Return the run configuration, device type and checkpoint path from the command line."""
    defaults = RunConfig()
    parser = argparse.ArgumentParser(description="Train a tiny model with DistributedDataParallel.")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--checkpoint", type=Path, default=None, help="where rank 0 saves the final weights")
    arguments = vars(parser.parse_args(argv))
    device, checkpoint = arguments.pop("device"), arguments.pop("checkpoint")
    return RunConfig(**arguments), device, checkpoint


@record  # a failing process's traceback goes into torchrun's summary, not only "exitcode: 1"
def main(argv: list[str] | None = None) -> None:
    """Run one process of a torchrun job: join the group, train, leave the group."""
    config, device_type, checkpoint = parse_arguments(argv)
    device = device_for_this_process(device_type)
    # torchrun sets MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE; init reads them ("env://").
    dist.init_process_group(backend=backend_for(device))
    try:
        train_ddp(config, device, checkpoint)
        dist.barrier()  # leave together: a process that exits while the others still talk can crash them
    finally:
        dist.destroy_process_group()


def free_loopback_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK_ADDRESS, 0))
        return probe.getsockname()[1]


def torchrun_command(nproc: int, config: RunConfig, port: int, checkpoint: Path | None = None,
                     device: str = "cpu") -> list[str]:
    """Return the command that starts ``nproc`` processes of :func:`main` on this machine.

    Example:
        >>> " ".join(torchrun_command(2, RunConfig(), port=29500)[1:8])
        '-m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 --master-port'
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
               "--master-addr", LOOPBACK_ADDRESS, "--master-port", str(port), "-m", "helpers.distributed",
               "--device", device]
    for name, value in asdict(config).items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    if checkpoint is not None:
        command += ["--checkpoint", str(checkpoint)]
    return command


def loopback_interface() -> str:
    """Return the name of this machine's loopback network interface (``lo`` on Linux, ``lo0`` on macOS).

    gloo otherwise picks the interface of the machine's host name, which may face a network.
    """
    return next((name for _, name in socket.if_nameindex() if name.startswith("lo")), "lo")


def loopback_environment() -> dict[str, str]:
    """Return this process's environment for torchrun: loopback only, one thread per process."""
    environment = dict(os.environ)
    loopback = loopback_interface()
    package_parent = str(Path(__file__).resolve().parent.parent)  # so `-m helpers.distributed` imports
    environment.update(GLOO_SOCKET_IFNAME=loopback, OMP_NUM_THREADS="1", MASTER_ADDR=LOOPBACK_ADDRESS,
                       PYTHONPATH=os.pathsep.join(filter(None, [package_parent, environment.get("PYTHONPATH")])))
    return environment


def run_until_done(command: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``command`` and return its exit code, stdout and stderr; stop it and all it started on timeout."""
    # A session of its own, so that a timeout can stop torchrun and the workers it started together.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=loopback_environment(), start_new_session=True) as process:
        try:
            printed, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            if hasattr(os, "killpg"):  # POSIX: the whole session
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.communicate()
            raise TimeoutError(f"torchrun ran for more than {timeout:g} s and was stopped; "
                               "give it a larger timeout or a smaller run (fewer samples or epochs).") from None
    return process.returncode, printed, errors


def launch_torchrun(nproc: int, config: RunConfig, checkpoint: Path | None = None, device: str = "cpu",
                    timeout: float = 300, attempts: int = 3) -> str:
    """Run :func:`main` in ``nproc`` processes with torchrun and return what they printed.

    The free port is only probed, so another program may take it first; then
    torchrun fails with EADDRINUSE and we try again on another port.

    Example:
        >>> print(launch_torchrun(2, RunConfig(epochs=1)))  # doctest: +SKIP
        rank 0 of 2: 256 samples, 16 batches of 16 per epoch, on cpu
        ...
    """
    for _ in range(attempts):
        command = torchrun_command(nproc, config, free_loopback_port(), checkpoint, device)
        exit_code, printed, errors = run_until_done(command, timeout)
        if exit_code == 0:
            return printed
        if "EADDRINUSE" not in errors:
            break
    raise RuntimeError(f"torchrun exited with code {exit_code}; expected 0. The last lines it wrote:\n"
                       f"{errors[-3000:]}\nRun the command in a terminal to see everything.")


def hogwild_worker(model: nn.Module, dataset: TensorDataset, steps: int, batch_size: int,
                   learning_rate: float, seed: int) -> None:
    """Take ``steps`` SGD steps on ``model``, whose weights live in shared memory, without any lock."""
    torch.set_num_threads(1)  # the processes share the cores; more threads each would only fight
    generator = torch.Generator().manual_seed(seed)
    inputs, targets = dataset.tensors
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    for _ in range(steps):
        batch = torch.randint(len(inputs), (batch_size,), generator=generator)
        optimizer.zero_grad()
        F.mse_loss(model(inputs[batch]), targets[batch]).backward()
        optimizer.step()  # writes straight into the shared weights that the other processes read


def train_hogwild(model: nn.Module, dataset: TensorDataset, processes: int = 2, steps: int = 100,
                  batch_size: int = 16, learning_rate: float = 0.05, seed: int = 0) -> None:
    """Train ``model`` in place with ``processes`` Hogwild workers that share its weights.

    Example:
        >>> model = make_tiny_model(8)
        >>> train_hogwild(model, make_regression_data(256, 8), processes=2, steps=50)  # doctest: +SKIP
    """
    model.share_memory()  # weights move to shared memory: every worker updates the same tensors
    # On Linux "fork" starts each worker as a copy of this process, torch already imported, in
    # milliseconds; elsewhere fork is unsafe or missing and "spawn" starts fresh interpreters.
    context = mp.get_context("fork" if sys.platform == "linux" else "spawn")
    workers = [context.Process(target=hogwild_worker,  # type: ignore[attr-defined]  # every context has Process
                               args=(model, dataset, steps, batch_size, learning_rate, seed + rank))
               for rank in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} Hogwild worker(s) exited with codes {failed}; expected 0, and their error "
                           "is printed above. Forked workers cannot run autograd once this process has started "
                           "autograd's own threads (PyTorch's note 'Autograd and Fork'): restart the kernel and run "
                           "train_hogwild before other training. Where "
                           "workers are spawned (Windows, macOS), call train_hogwild from a script guarded by "
                           "`if __name__ == '__main__':`.")


if __name__ == "__main__":
    main()
