"""The training loop: weighted metrics, no per-batch syncs, best model, schedulers, early stopping."""

import warnings
from typing import ClassVar

import pytest
import torch
from torch import nn

from helpers.engine import (
    History,
    Precision,
    evaluate,
    fit,
    progress_bar,
    train_one_epoch,
    train_step,
    training_precision,
)
from helpers.plots import learning_rates, plot_confusion_matrix, plot_history, plot_learning_rates

CPU = torch.device("cpu")


def data(count=40, features=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(count, features, generator=generator)
    return torch.utils.data.TensorDataset(inputs, (inputs[:, 0] > 0).long())


def loader(dataset, batch_size=8, shuffle=False):
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                       generator=torch.Generator().manual_seed(0))


def test_metrics_are_weighted_by_batch_size_not_a_mean_of_batch_means():
    dataset = data(count=9)
    model = nn.Linear(4, 2)
    loss, accuracy = evaluate(model, loader(dataset, batch_size=4), nn.CrossEntropyLoss(), CPU)  # 4 + 4 + 1
    inputs, labels = dataset.tensors
    with torch.no_grad():
        logits = model(inputs)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)
    assert accuracy == pytest.approx((logits.argmax(1) == labels).float().mean().item())


def test_an_epoch_of_training_weights_each_batch_loss_by_its_size():
    dataset = data(count=9)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the model stays as it is: one loss to expect
    inputs, labels = dataset.tensors
    with torch.no_grad():
        logits = model(inputs)
    expected_loss = nn.functional.cross_entropy(logits, labels).item()
    expected_accuracy = (logits.argmax(1) == labels).float().mean().item()
    loss, accuracy = train_one_epoch(model, loader(dataset, batch_size=4), nn.CrossEntropyLoss(), optimizer, CPU)  # 4 + 4 + 1
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert accuracy == pytest.approx(expected_accuracy)


def test_an_epoch_of_training_reads_the_device_once_per_epoch_not_once_per_batch(monkeypatch):
    calls = []
    original = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: calls.append(1) or original(self))
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    counts = []
    for batch_size in (16, 4):  # 4 batches, then 16 batches
        calls.clear()
        train_one_epoch(model, loader(data(count=64), batch_size=batch_size), nn.CrossEntropyLoss(), optimizer, CPU)
        counts.append(len(calls))
    assert counts[0] == counts[1] <= 3  # the loss, the accuracy, and the loader's shuffling seed


def test_train_one_epoch_learns_and_sets_the_modes():
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train, loss_fn = loader(data(), shuffle=True), nn.CrossEntropyLoss()
    first_loss, _ = evaluate(model, train, loss_fn, CPU)
    assert not model.training
    for _ in range(10):
        train_one_epoch(model, train, loss_fn, optimizer, CPU)
    assert model.training
    last_loss, last_accuracy = evaluate(model, train, loss_fn, CPU)
    assert last_loss < first_loss / 2 and last_accuracy > 0.9


def test_history_records_each_epoch_and_the_best():
    history = History()
    assert history.best_valid_loss == float("inf")
    assert history.add(1.0, 0.5, 0.9, 0.5, 0.1) and history.add(0.8, 0.6, 0.7, 0.6, 0.1)
    assert not history.add(0.6, 0.7, 0.8, 0.6, 0.1)
    assert (history.best_epoch, history.best_valid_loss, history.epochs_since_best(), len(history)) == (2, 0.7, 1, 3)
    assert History(**history.as_dict()) == history


def test_fit_keeps_history_and_restores_the_best_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    train, valid = loader(data(count=16), shuffle=True), loader(data(count=64, seed=1))
    history = fit(model, train, valid, nn.CrossEntropyLoss(), optimizer, epochs=6, device="cpu", progress=False)
    assert len(history.train_loss) == len(history.valid_accuracy) == len(history.lr) == 6
    best_loss, _ = evaluate(model, valid, nn.CrossEntropyLoss(), CPU)
    assert best_loss == pytest.approx(history.best_valid_loss, rel=1e-6)


def test_fit_steps_one_cycle_every_batch_and_plateau_with_the_validation_loss():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train, valid = loader(data(count=32)), loader(data(count=16))
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3 * len(train))
    fit(model, train, valid, nn.CrossEntropyLoss(), optimizer, epochs=3, device="cpu", scheduler=one_cycle,
        progress=False)
    assert one_cycle.last_epoch == 3 * len(train)

    class RecordingPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
        seen: ClassVar[list[float]] = []

        def step(self, metrics):
            self.seen.append(metrics)
            super().step(metrics)

    plateau = RecordingPlateau(optimizer)
    history = fit(model, train, valid, nn.CrossEntropyLoss(), optimizer, epochs=3, device="cpu", scheduler=plateau,
                  progress=False)
    assert plateau.seen == history.valid_loss


def test_fit_stops_early_when_validation_stops_improving(capsys):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    history = fit(model, loader(data()), loader(data(seed=1)), nn.CrossEntropyLoss(), optimizer, epochs=20,
                  device="cpu", patience=2, progress=False)
    assert len(history) == 3 and "early stop after epoch 3" in capsys.readouterr().out


def test_progress_bars_are_plain_text_on_stdout_without_warnings(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in progress_bar(range(3), desc="epoch 1/1"):
            pass
    captured = capsys.readouterr()
    assert "epoch 1/1: 100%" in captured.out and captured.err == ""


def test_plots_draw_history_and_schedules():
    history = History()
    history.add(1.0, 0.5, 0.9, 0.5, 0.1)
    assert len(plot_history(history, "run").axes) == 2
    rates = learning_rates(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), 2, 2)
    assert rates == [0.1, 0.1, 0.05, 0.05]
    one_cycle = learning_rates(lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=20), 4, 5)
    assert len(one_cycle) == 20 and max(one_cycle) == pytest.approx(0.1) and one_cycle[0] < 0.01
    assert len(plot_learning_rates({"StepLR": rates}, steps_per_epoch=2).axes[0].lines) == 2  # the schedule, one epoch mark


def test_confusion_matrix_counts_are_readable_on_every_cell():
    axes = plot_confusion_matrix(torch.tensor([[53, 8], [0, 67]]), ["Parasitized", "Uninfected"])
    texts = {(text.get_position(), text.get_text()): text.get_color() for text in axes.texts}
    assert texts == {((0, 0), "53"): "white", ((1, 0), "8"): "black", ((0, 1), "0"): "black",
                     ((1, 1), "67"): "white"}
    assert [label.get_text() for label in axes.get_xticklabels()] == ["Parasitized", "Uninfected"]



class DtypeProbe(nn.Module):
    """A linear model that remembers the dtype its forward pass computed in."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen: set[torch.dtype] = set()

    def forward(self, inputs):
        logits = self.linear(inputs)
        self.seen.add(logits.dtype)
        return logits


def test_fit_on_a_cpu_trains_in_float32_unless_asked_for_bfloat16():
    dataset = data(count=64)
    plain = DtypeProbe()
    fit(plain, loader(dataset), loader(dataset), nn.CrossEntropyLoss(), torch.optim.SGD(plain.parameters(), lr=0.5),
        epochs=2, device="cpu", progress=False)
    assert plain.seen == {torch.float32}
    torch.manual_seed(0)
    mixed = DtypeProbe()
    history = fit(mixed, loader(dataset), loader(dataset), nn.CrossEntropyLoss(),
                  torch.optim.SGD(mixed.parameters(), lr=0.5), epochs=6, device="cpu", progress=False,
                  precision="bfloat16")
    assert mixed.seen == {torch.bfloat16}
    assert mixed.linear.weight.dtype == torch.float32  # the weights stay float32; only the compute is bf16
    assert history.valid_loss[-1] < history.valid_loss[0] and history.valid_accuracy[-1] > 0.8


def test_float16_training_goes_through_a_grad_scaler():
    dataset = data(count=64)
    torch.manual_seed(0)
    model = DtypeProbe()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    losses = [train_one_epoch(model, loader(dataset), nn.CrossEntropyLoss(), optimizer, CPU,
                              precision=Precision(torch.float16, scaler))[0] for _ in range(5)]
    assert model.seen == {torch.float16} and losses[-1] < losses[0]
    assert scaler.get_scale() >= 2.0**10  # no overflow here, so no step was skipped


def test_mixed_precision_is_on_for_cuda_by_default_and_off_elsewhere(monkeypatch):
    from helpers import engine

    monkeypatch.setattr(engine, "autocast_dtype", lambda device: torch.float16)
    cuda = torch.device("cuda")
    assert engine.mixed_precision_dtype(cuda, None) == torch.float16
    assert engine.mixed_precision_dtype(cuda, False) is None
    assert engine.mixed_precision_dtype(CPU, None) is None
    assert engine.mixed_precision_dtype(CPU, True) == torch.float16
    assert engine.training_precision(cuda).dtype == torch.float16 and engine.training_precision(cuda).scaler
    assert engine.training_precision(CPU) == Precision() and engine.training_precision(CPU, "mixed").dtype == torch.float16


def test_precision_is_one_named_value():
    assert training_precision(CPU, "float32") == Precision()
    assert training_precision(CPU, "bfloat16") == Precision(torch.bfloat16)
    float16 = training_precision(CPU, "float16")
    assert float16.dtype == torch.float16 and isinstance(float16.scaler, torch.amp.GradScaler)
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'mixed'"):
        training_precision(CPU, "half")
    model = nn.Linear(4, 2)
    with pytest.raises(TypeError):  # everything after epochs is passed by name
        fit(model, loader(data()), loader(data()), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
            1, "cpu")


def test_the_old_name_train_step_warns_and_trains_one_epoch():
    torch.manual_seed(0)
    old, new = nn.Linear(4, 2), nn.Linear(4, 2)
    new.load_state_dict(old.state_dict())
    with pytest.warns(DeprecationWarning, match="train_step is now train_one_epoch"):
        old_result = train_step(old, loader(data()), nn.CrossEntropyLoss(), torch.optim.SGD(old.parameters(), lr=0.1),
                                CPU)
    assert old_result == train_one_epoch(new, loader(data()), nn.CrossEntropyLoss(),
                                         torch.optim.SGD(new.parameters(), lr=0.1), CPU)
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))


def frozen_backbone_model():
    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU())
    backbone.requires_grad_(False)
    return nn.Sequential(backbone, nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_frozen_batchnorm_keeps_its_running_statistics_while_the_rest_trains():
    model = frozen_backbone_model()
    frozen, trainable = model[0][1], model[2]
    before = {name: tensor.clone() for name, tensor in frozen.state_dict().items()}
    trainable_before = trainable.running_mean.clone()
    dataset = data(count=64)
    params = [p for p in model.parameters() if p.requires_grad]
    fit(model, loader(dataset, shuffle=True), loader(dataset), nn.CrossEntropyLoss(),
        torch.optim.SGD(params, lr=0.1), epochs=3, device="cpu", progress=False)
    for name, tensor in frozen.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert not torch.equal(trainable.running_mean, trainable_before)  # the trainable one does learn its statistics


def test_train_one_epoch_leaves_frozen_batchnorm_in_eval_and_the_rest_in_train():
    model = frozen_backbone_model()
    train_one_epoch(model, loader(data()), nn.CrossEntropyLoss(),
                    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1), CPU)
    assert not model[0][1].training and model[0].training and model[2].training and model.training


def test_a_long_run_says_after_its_first_epoch_how_long_the_rest_will_take(monkeypatch, capsys):
    from helpers import engine

    clock = iter(range(0, 10_000, 50))  # every reading of the clock is 50 s after the last
    monkeypatch.setattr(engine.time, "perf_counter", lambda: float(next(clock)))
    model = nn.Linear(4, 2)
    fit(model, loader(data()), loader(data()), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=4, device="cpu", progress=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if "epochs left" in line]
    assert lines == ["the first epoch took 50 s; the 3 epochs left will take about 2 min"]
    assert engine.remaining_time_note(5.0, 3) is None and engine.remaining_time_note(100.0, 0) is None


def test_an_overflowing_loss_with_finite_weights_goes_on():
    from helpers.engine import check_weights_finite

    check_weights_finite(nn.Linear(3, 2), epoch=2, train_loss=float("inf"))
