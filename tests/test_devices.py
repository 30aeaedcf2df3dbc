"""helpers.devices: choosing, moving, timing, mixed precision and memory, on whatever this machine has."""

from types import SimpleNamespace

import pytest
import torch

from helpers import devices
from helpers.devices import (autocast_dtype, choose_device, memory_readout, seconds_per_call, tensor_megabytes,
                             to_device)
from helpers.environment import best_device_name


def test_choose_device():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto") == torch.device(best_device_name())
    assert choose_device(None) == torch.device(best_device_name())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_choose_device_says_how_to_get_a_gpu():
    with pytest.raises(RuntimeError, match="Change runtime type"):
        choose_device("cuda")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_choose_device_explains_mps():
    with pytest.raises(RuntimeError, match="Apple silicon"):
        choose_device("mps")


def test_to_device_moves_nested_batches_and_keeps_other_values():
    batch = {"images": torch.zeros(2, 3), "meta": [torch.ones(1), "name"], "pair": (torch.ones(2), 3)}
    moved = to_device(batch, "meta")
    assert moved["images"].device.type == "meta"
    assert moved["meta"][0].device.type == "meta" and moved["meta"][1] == "name"
    assert isinstance(moved["pair"], tuple) and moved["pair"][1] == 3


def test_seconds_per_call_is_the_median_of_the_timed_calls(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(devices, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    durations = iter([100.0, 100.0, 9.0, 1.0, 2.0])  # two slow warm-up calls, then the timed ones

    def call_taking_the_next_duration():
        clock[0] += next(durations)

    assert seconds_per_call(call_taking_the_next_duration, repeats=3, warmup=2) == 2.0
    assert next(durations, "all used") == "all used"



def test_seconds_per_call_waits_for_the_device_before_each_clock_reading(monkeypatch):
    events = []
    monkeypatch.setattr(devices, "time", SimpleNamespace(perf_counter=lambda: events.append("clock") or 0.0))
    monkeypatch.setattr(devices, "synchronize", lambda device: events.append(f"wait {device}"))
    seconds_per_call(lambda: events.append("call"), device="cuda", repeats=2, warmup=1)
    timed = ["clock", "call", "wait cuda", "clock"]
    assert events == ["call", "wait cuda"] + timed + timed

def test_autocast_dtype_and_memory():
    assert autocast_dtype("cpu") == torch.bfloat16
    assert autocast_dtype(torch.device("cpu")) == torch.bfloat16
    assert tensor_megabytes(torch.zeros(64, 3, 224, 224)) == pytest.approx(64 * 3 * 224 * 224 * 4 / 2**20)
    assert tensor_megabytes(torch.zeros(1024, 1024, dtype=torch.bfloat16)) == 2.0
    assert memory_readout("cpu") == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_memory_readout_on_cuda():
    x = torch.zeros(1024, 1024, device="cuda")
    readout = memory_readout("cuda")
    assert readout["allocated"] >= 4.0 and readout["reserved"] >= readout["allocated"]
    del x
