"""helpers.export: exported artefacts load back and agree with the model they came from."""

import numpy as np
import pytest
import torch
from torch import nn

from helpers.devices import seconds_per_call
from helpers.export import (
    artefact_size_bytes,
    compile_or_fall_back,
    export_onnx,
    export_program,
    load_program,
    max_abs_difference,
    onnx_session,
    run_onnx,
)

ONNX_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()


@pytest.fixture(scope="module")
def batch():
    return torch.randn(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_exported_program_round_trip_with_any_batch_size(model, batch, tmp_path):
    path = export_program(model, batch[:1], tmp_path / "model.pt2")  # an example of one still gives a dynamic batch
    loaded = load_program(path)
    with torch.no_grad():
        assert max_abs_difference(loaded(batch), model(batch)) < 1e-6
        assert loaded(batch[:1]).shape == (1, 2)
    assert artefact_size_bytes(path) > 0
    assert seconds_per_call(lambda: load_program(path), repeats=1) > 0


@pytest.mark.slow
def test_onnx_matches_pytorch_within_tolerance(model, batch, tmp_path):
    path = export_onnx(model, batch[:2], tmp_path / "model.onnx")
    session = onnx_session(path)
    assert [i.name for i in session.get_inputs()] == ["images"]
    with torch.no_grad():
        expected = model(batch)
    outputs = run_onnx(session, batch)
    assert isinstance(outputs, np.ndarray) and outputs.shape == (5, 2)
    assert max_abs_difference(outputs, expected) < ONNX_TOLERANCE
    assert not (tmp_path / "model.onnx.data").exists()  # the weights are inside the one file
    assert artefact_size_bytes(path) == path.stat().st_size


def test_max_abs_difference_refuses_different_shapes():
    assert max_abs_difference(np.array([1.0, -2.0]), torch.tensor([1.0, 2.0])) == 4.0
    with pytest.raises(ValueError, match="same shape"):
        max_abs_difference(np.zeros(3), np.zeros(4))


def test_compile_falls_back_to_the_next_backend(model, batch):
    compiled = compile_or_fall_back(model, batch, backends=("no_such_backend", "aot_eager"))
    assert compiled.backend == "aot_eager" and "no_such_backend" in compiled.note
    with torch.no_grad():
        assert max_abs_difference(compiled.model(batch), model(batch)) < 1e-6


def test_compile_runs_uncompiled_when_nothing_works(model, batch):
    compiled = compile_or_fall_back(model, batch, backends=("no_such_backend",))
    assert compiled.backend is None and compiled.model is model
    assert "runs uncompiled" in compiled.note


def test_an_exported_slice_of_a_big_batch_does_not_carry_the_batch(model, tmp_path):
    big_batch = torch.randn(256, 3, 32, 32)  # 3 MiB of images
    from_slice = export_program(model, big_batch[:2], tmp_path / "slice.pt2")
    from_copy = export_program(model, big_batch[:2].clone(), tmp_path / "copy.pt2")
    assert artefact_size_bytes(from_slice) < artefact_size_bytes(from_copy) * 1.1
    assert artefact_size_bytes(from_slice) < big_batch.nelement() * big_batch.element_size() / 4


def training_model():
    """A model in training mode whose Dropout and BatchNorm make a train-mode program give other outputs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].running_mean.fill_(0.5)
        model[1].running_var.fill_(2.0)  # running statistics far from any batch's own
    return model.train()


def test_export_from_a_model_in_training_mode_gives_the_eval_program_and_keeps_the_mode(batch, tmp_path):
    model = training_model()
    model[3].eval()  # a submodule the caller set apart keeps its own mode too
    path = export_program(model, batch[:2], tmp_path / "model.pt2")
    assert model.training and model[1].training and not model[3].training
    with torch.no_grad():
        expected = model.eval()(batch)
        assert max_abs_difference(load_program(path)(batch), expected) < 1e-5
        assert max_abs_difference(load_program(path)(batch), load_program(path)(batch)) == 0  # no Dropout left


def test_onnx_export_sees_the_eval_model_and_a_copy_of_the_example(batch, tmp_path, monkeypatch):
    seen = {}

    def exporter(model, args, path, **options):  # the real exporter takes seconds: see the slow test above
        seen["modes"] = [module.training for module in model.modules()]
        seen["example"] = args[0]
        path.write_bytes(b"onnx")

    monkeypatch.setattr(torch.onnx, "export", exporter)
    model = training_model()
    example = batch[:2]
    export_onnx(model, example, tmp_path / "model.onnx")
    assert seen["modes"] and not any(seen["modes"])
    assert all(module.training for module in model.modules())
    assert torch.equal(seen["example"], example)
    assert seen["example"].untyped_storage().data_ptr() != batch.untyped_storage().data_ptr()
