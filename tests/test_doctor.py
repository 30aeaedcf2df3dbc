from helpers import doctor


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
    import helpers.environment

    monkeypatch.setattr(helpers.environment, "best_device_name", lambda: "cpu")
    assert not doctor.check_device("full").ok
    assert doctor.check_device("class").ok
