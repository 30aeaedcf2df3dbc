"""helpers.devices: choosing, moving, timing, mixed precision and memory, on whatever this machine has."""

import pytest
import torch

from helpers.devices import (autocast_dtype, choose_device, memory_readout, seconds_per_call, tensor_megabytes,
                             to_device)


def test_choose_device():
    assert choose_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert choose_device("auto") == torch.device(expected)
    assert choose_device(None) == torch.device(expected)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: True)
    assert choose_device("auto") == torch.device("mps")
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    assert choose_device("auto") == torch.device("cpu")
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert choose_device("auto") == torch.device("cuda")


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


def test_seconds_per_call_is_the_median():
    calls = []
    assert seconds_per_call(lambda: calls.append(1), repeats=3, warmup=2) >= 0
    assert len(calls) == 5


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
