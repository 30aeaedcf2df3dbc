import pytest

from helpers.tools import doctor

CHECK_FUNCTIONS = ["check_python", "check_torch", "check_torchvision", "check_course_package", "check_kernel",
                   "check_device", "check_disk", "check_data_folder"]


def test_doctor_prints_one_line_per_requirement():
    lines = []
    doctor.run_doctor("class", print_line=lines.append)
    names = [line.split("]")[1].split()[0] for line in lines]
    assert names == ["Python", "torch", "torchvision", "course", "kernel", "device", "free", "data"]


def pass_every_check_but(monkeypatch, failing):
    for name in CHECK_FUNCTIONS:
        ok = name != failing
        monkeypatch.setattr(doctor, name, lambda *args, name=name, ok=ok: doctor.Check(name, ok, "found", "the hint"))


@pytest.mark.parametrize("failing", CHECK_FUNCTIONS)
def test_any_failing_requirement_makes_the_doctor_fail_and_exit_non_zero(monkeypatch, failing):
    from helpers.tools.cli import main

    pass_every_check_but(monkeypatch, failing)
    lines = []
    assert doctor.run_doctor("class", print_line=lines.append) is False
    assert [line.split()[0] for line in lines].count("[FAIL]") == 1 and "-> the hint" in "".join(lines)
    assert main(["doctor"]) != 0


def test_the_doctor_is_ready_when_every_requirement_is_met(monkeypatch):
    from helpers.tools.cli import main

    pass_every_check_but(monkeypatch, failing=None)
    lines = []
    assert doctor.run_doctor("class", print_line=lines.append) is True
    assert all(line.startswith("[OK]") for line in lines) and len(lines) == len(CHECK_FUNCTIONS)
    assert main(["doctor"]) == 0


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


def test_the_data_folder_check_writes_only_a_file_of_its_own(monkeypatch, tmp_path):
    learners_file = tmp_path / ".write-test"  # the name the check once used for its probe
    learners_file.write_text("mine")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert doctor.check_data_folder().ok
    assert [entry.name for entry in tmp_path.iterdir()] == [".write-test"]
    assert learners_file.read_text() == "mine"


def test_a_data_folder_that_cannot_be_written_fails_the_check(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("not a folder")
    assert not doctor.check_data_folder().ok
