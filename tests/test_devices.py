"""helpers.devices: choosing, moving, timing, mixed precision and memory, on whatever this machine has."""

from types import SimpleNamespace

import pytest
import torch

from helpers import devices
from helpers.devices import autocast_dtype, choose_device, memory_readout, seconds_per_call, tensor_megabytes, to_device


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


def stub_cuda_gpu(monkeypatch: pytest.MonkeyPatch, major: int, minor: int) -> None:
    """Make torch.cuda report one GPU of compute capability major.minor, where bfloat16 emulation works."""
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: SimpleNamespace(major=major, minor=minor, name="stub GPU"))
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lambda device: True)


@pytest.mark.parametrize(("capability", "expected"), [
    ((7, 5), torch.float16),   # Turing: Colab's and Kaggle's T4; bfloat16 only emulated
    ((7, 0), torch.float16),   # Volta: V100
    ((6, 0), torch.float16),   # Pascal: Kaggle's P100
    ((8, 0), torch.bfloat16),  # Ampere: A100
    ((8, 9), torch.bfloat16),  # Ada: L4
    ((9, 0), torch.bfloat16),  # Hopper: H100
])
def test_autocast_dtype_takes_native_bfloat16_only(monkeypatch, capability, expected):
    stub_cuda_gpu(monkeypatch, *capability)
    assert torch.cuda.is_bf16_supported() is True  # counting emulation, every stub GPU would say yes
    assert autocast_dtype("cuda") == expected
    assert autocast_dtype(torch.device("cuda", 0)) == expected


def test_autocast_dtype_without_cuda_is_bfloat16_on_cpu_and_float16_on_mps(monkeypatch):
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert autocast_dtype("cpu") == torch.bfloat16
    assert autocast_dtype("cuda") == torch.float16  # no GPU answers: the safe choice, with a GradScaler
    assert autocast_dtype("mps") == torch.float16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_memory_readout_on_cuda():
    x = torch.zeros(1024, 1024, device="cuda")
    readout = memory_readout("cuda")
    assert readout["allocated"] >= 4.0 and readout["reserved"] >= readout["allocated"]
    del x
