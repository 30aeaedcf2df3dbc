import pytest

from helpers.tools import doctor


def test_doctor_prints_one_line_per_requirement(capsys):
    lines = []
    ready = doctor.run_doctor("class", print_line=lines.append)
    names = [line.split("]")[1].split()[0] for line in lines]
    assert names == ["Python", "torch", "torchvision", "course", "kernel", "device", "free", "data"]
    assert ready == all(line.startswith("[OK]") for line in lines)


def test_a_failure_comes_with_a_hint():
    check = doctor.Check("device", False, "cpu, no GPU", doctor.GPU_HINT)
    assert check.line().startswith("[FAIL] device")
    assert "Runtime > Change runtime type" in check.line()


def test_full_preset_without_gpu_fails_with_the_colab_hint(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    assert not doctor.check_device("full").ok
    assert doctor.check_device("class").ok


@pytest.mark.parametrize("version, expected", [("2.7.0", (2, 7)), ("2.14.1+cu130", (2, 14)),
                                               ("0.22.0+cpu", (0, 22)), ("2.10.0a0", (2, 10)),
                                               ("2.11.0.dev20260101", (2, 11))])
def test_major_minor_reads_release_and_local_versions(version, expected):
    assert doctor.major_minor(version) == expected


def test_a_torch_older_than_the_course_supports_fails_with_a_hint(monkeypatch):
    import torch

    monkeypatch.setattr(torch, "__version__", "2.6.0+cu124")
    check = doctor.check_torch()
    assert not check.ok and check.found == "2.6.0+cu124"
    assert "needs torch 2.7 or newer" in check.line()
    monkeypatch.setattr(torch, "__version__", "2.7.0")
    assert doctor.check_torch().ok
