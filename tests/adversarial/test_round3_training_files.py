"""Round 3 (issue 30): .pt2 files that would run code, planted links, learners' files among checkpoints,
folders that cannot take a checkpoint, and resumes that cannot continue."""

import contextlib
import json
import os
import pickle
import tempfile
import zipfile

import pytest
import torch
from hostile import SENTINEL_NAME, assert_clear_error
from torch import nn

from helpers.checkpoints import CheckpointManager, full_checkpoint, restore, save_atomically
from helpers.engine import TrainingDivergedError, fit, train_step
from helpers.export import export_program, load_program


class Payload:
    """Unpickling this runs code: the suite checks it never does."""

    def __reduce__(self):
        return (os.system, (f"touch {SENTINEL_NAME}",))


@pytest.fixture
def program(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten())
    return export_program(model, torch.randn(2, 3, 8, 8), tmp_path / "model.pt2")


def rewrite_archive(path, change):
    """Rewrite the zip at ``path``: ``change(name, data)`` returns the new data (``None``: drop it), and may
    return extra members through ``change.extra``."""
    with zipfile.ZipFile(path) as archive:
        members = [(name, archive.read(name)) for name in archive.namelist()]
    root = members[0][0].split("/", 1)[0]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            data = change(name, data)
            if data is not None:
                archive.writestr(name, data)
        for name, data in getattr(change, "extra", {}).items():
            archive.writestr(f"{root}/{name}", data)


def pickled_weight(name, data):
    if name.endswith("model_weights_config.json"):
        config = json.loads(data)
        first = next(iter(config["config"].values()))
        first["use_pickle"] = True
        return json.dumps(config)
    if name.endswith("data/weights/weight_0"):
        return pickle.dumps(Payload())
    return data


def unmarked_weight(name, data):
    if name.endswith("model_weights_config.json"):
        config = json.loads(data)
        next(iter(config["config"].values())).pop("use_pickle")  # torch's default: pickled
        return json.dumps(config)
    return pickled_weight(name, data) if name.endswith("weight_0") else data


def pickled_constant(name, data):
    if name.endswith("model_constants_config.json"):
        return json.dumps({"config": {"evil": {"path_name": "custom_obj_0", "use_pickle": True}}})
    return data


pickled_constant.extra = {"data/constants/custom_obj_0": pickle.dumps(Payload())}


def pickled_sample_inputs(name, data):
    if name.endswith("data/sample_inputs/model.pt"):
        with tempfile.SpooledTemporaryFile() as buffer:
            torch.save({"inputs": Payload()}, buffer)
            buffer.seek(0)
            return buffer.read()
    return data


def compiled_code(name, data):
    return data


compiled_code.extra = {"data/aotinductor/model/model.so": b"\x7fELF not really"}


def garbage_config(name, data):
    return b"{not json" if name.endswith("model_weights_config.json") else data


@pytest.mark.attack("code execution")
@pytest.mark.parametrize("change", [pickled_weight, unmarked_weight, pickled_constant, pickled_sample_inputs,
                                    compiled_code, garbage_config], ids=lambda change: change.__name__)
def test_a_pt2_that_would_unpickle_or_run_code_is_refused_before_loading(program, tmp_path, monkeypatch, change):
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile(program) as archive:
        marks_members = any(name.endswith("_config.json") for name in archive.namelist())
    rewrite_archive(program, change)
    if not marks_members and change is not compiled_code:
        # an older torch (2.7) writes no weights or constants configs, so nothing can mark a member to be
        # unpickled: the attack cannot be built; whatever loading does, the payload must not run
        with contextlib.suppress(Exception):  # refused or unreadable: either way nothing ran
            load_program(program)
        assert not (tmp_path / SENTINEL_NAME).exists()
        return
    with pytest.raises(Exception) as caught:
        load_program(program)
    assert_clear_error(caught.value, "refused", "load only your own")
    assert not (tmp_path / SENTINEL_NAME).exists()


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04half"])
def test_a_pt2_that_is_not_an_archive_is_named(tmp_path, content):
    path = tmp_path / "model.pt2"
    path.write_bytes(content)
    with pytest.raises(Exception) as caught:
        load_program(path)
    assert_clear_error(caught.value, "not a .pt2 archive")


def test_a_pt2_of_the_course_still_loads(program):
    assert load_program(program)(torch.randn(3, 3, 8, 8)).shape == (3, 72)


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("name", ["epoch_0001.pt", "best.pt"])
def test_a_link_planted_as_the_temporary_file_is_never_written_through(tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("a learner's notes")
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for suffix in ("tmp", f"{os.getpid()}.tmp"):  # the names this round and the last one wrote
        (folder / f".{name}.{suffix}").symlink_to(victim)
    save_atomically({"w": torch.ones(2)}, folder / name)
    assert victim.read_text() == "a learner's notes"
    assert not (folder / name).is_symlink() and torch.load(folder / name)["w"].sum() == 2


@pytest.mark.attack("data loss")
@pytest.mark.parametrize("learner_file", ["epoch_1.pt", "epoch_00002.pt", "epoch_01.pt", "epoch_0001.pt.bak",
                                          "Epoch_0001.pt", "epoch_0001.PT"])
def test_pruning_removes_only_the_names_the_manager_writes(tmp_path, learner_file):
    (tmp_path / learner_file).write_text("mine")
    manager = CheckpointManager(tmp_path, keep_last=1, verbose=False)
    for epoch in (1, 2, 3):
        manager.save({"epoch": epoch}, epoch=epoch)
    assert (tmp_path / learner_file).read_text() == "mine"
    assert sorted(p.name for p in tmp_path.glob("epoch_????.pt")) == ["epoch_0003.pt"]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("name", ["epoch_0002.pt", "best.pt"])
def test_a_folder_where_a_checkpoint_goes_is_named_before_training(tmp_path, name):
    (tmp_path / name).mkdir()
    with pytest.raises(Exception) as caught:
        CheckpointManager(tmp_path, verbose=False)
    assert_clear_error(caught.value, "is a folder", "move it away")


@pytest.mark.attack("raw traceback")
def test_a_folder_that_cannot_be_written_is_named_before_training(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # root ignores chmod: a read-only mount refuses like this
    with pytest.raises(Exception) as caught:
        CheckpointManager(tmp_path, verbose=False)
    assert_clear_error(caught.value, "cannot write", "folder you can write to")


@pytest.mark.attack("raw traceback")
def test_a_full_disk_is_named_and_the_last_checkpoint_kept(tmp_path, monkeypatch):
    manager = CheckpointManager(tmp_path, verbose=False)
    manager.save({"epoch": 1}, epoch=1)

    def disk_full(obj, file):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 470")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(Exception) as caught:
        manager.save({"epoch": 2}, epoch=2)
    assert_clear_error(caught.value, "free some disk space", "still whole")
    monkeypatch.undo()
    assert torch.load(tmp_path / "epoch_0001.pt")["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def run_state(optimizer_class):
    model = nn.Linear(4, 2)
    optimizer = optimizer_class(model.parameters(), lr=0.1)
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    history = {"train_loss": [1.0], "train_accuracy": [0.5], "valid_loss": [1.0], "valid_accuracy": [0.5],
               "lr": [0.1], "best_epoch": 1}
    return full_checkpoint(model, optimizer, epoch=1, history=history)


OPTIMIZER_PAIRS = [(torch.optim.SGD, torch.optim.Adam), (torch.optim.Adam, torch.optim.SGD),
                   (torch.optim.AdamW, torch.optim.SGD), (torch.optim.SGD, torch.optim.RMSprop)]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("saved, wanted", OPTIMIZER_PAIRS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("course_version", ["this", "older (no optimizer_class)"])
def test_resuming_another_optimizers_state_is_named(saved, wanted, course_version):
    checkpoint = run_state(saved)
    if course_version != "this":
        checkpoint.pop("optimizer_class")
    model = nn.Linear(4, 2)
    optimizer = wanted(model.parameters(), lr=0.1)
    with pytest.raises(Exception) as caught:  # a state that slips through breaks at the first step
        restore(checkpoint, model, optimizer)
        model(torch.randn(3, 4)).sum().backward()
        optimizer.step()
    assert_clear_error(caught.value, "optimizer", wanted.__name__)


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("plain", [lambda: nn.Linear(4, 2).state_dict(), lambda: {"model": "weights"}, list])
def test_resuming_from_a_plain_state_dict_is_named(plain):
    model = nn.Linear(4, 2)
    with pytest.raises(Exception) as caught:
        restore(plain(), model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert_clear_error(caught.value, "not a full checkpoint", "load_state_dict")


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("history", [{"train_loss": [1.0], "best_epoch": 1, "grad_norm": [0.3]}, [1.0, 2.0], None])
def test_resuming_a_history_this_version_does_not_write_is_named(tmp_path, history):
    checkpoint = run_state(torch.optim.SGD)
    checkpoint["history"] = history
    save_atomically(checkpoint, tmp_path / "epoch_0001.pt")
    model = nn.Linear(4, 2)
    batches = [(torch.randn(4, 4), torch.tensor([0, 1, 0, 1]))]
    with pytest.raises(Exception) as caught:
        fit(model, batches, batches, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
            device="cpu", checkpoints=CheckpointManager(tmp_path, verbose=False), progress=False)
    assert_clear_error(caught.value, "history", "new checkpoint folder")


@pytest.mark.attack("wrong answer")
def test_a_checkpoint_linked_from_another_run_is_not_continued(tmp_path, capsys):
    other = tmp_path / "other_run"
    save_atomically(run_state(torch.optim.SGD) | {"epoch": 5}, other / "epoch_0005.pt")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "epoch_0005.pt").symlink_to(other / "epoch_0005.pt")
    manager = CheckpointManager(mine, verbose=True)
    model = nn.Linear(4, 2)
    assert manager.resume(model, torch.optim.SGD(model.parameters(), lr=0.1)) is None
    assert "is a link" in capsys.readouterr().out
    assert (other / "epoch_0005.pt").is_file()


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("loader", [[], "empty dataset", "drop_last"])
def test_fit_with_an_empty_loader_says_so(loader):
    dataset = torch.utils.data.TensorDataset(torch.randn(3, 4), torch.tensor([0, 1, 0]))
    if loader == "empty dataset":
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.empty(0, 4),
                                                                             torch.empty(0, dtype=torch.long)))
    elif loader == "drop_last":
        loader = torch.utils.data.DataLoader(dataset, batch_size=8, drop_last=True)
    model = nn.Linear(4, 2)
    with pytest.raises(Exception) as caught:
        train_step(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), "cpu")
    assert_clear_error(caught.value, "no batches")


@pytest.mark.attack("data loss")
def test_exporting_over_a_planted_link_replaces_the_link_not_its_target(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("a learner's notes")
    (tmp_path / "model.pt2").symlink_to(victim)
    path = export_program(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()), torch.randn(2, 3, 8, 8),
                          tmp_path / "model.pt2")
    assert victim.read_text() == "a learner's notes"
    assert not path.is_symlink() and load_program(path)(torch.randn(1, 3, 8, 8)).shape == (1, 72)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2", "victim.txt"]


@pytest.mark.attack("raw traceback")
@pytest.mark.parametrize("write", ["export_program", "export_onnx", "write_atomically"])
def test_writing_onto_a_folder_is_named_and_the_folder_kept(tmp_path, write):
    from helpers import export, safe_files

    folder = tmp_path / "model.pt2"
    folder.mkdir()
    (folder / "notes.txt").write_text("a learner's notes")
    model, example = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()).eval(), torch.randn(2, 3, 8, 8)
    with pytest.raises(IsADirectoryError) as error:
        if write == "write_atomically":
            safe_files.write_atomically(folder, b"data")
        else:
            getattr(export, write)(model, example, folder)
    assert_clear_error(error.value, "is a folder", "move that folder away")
    assert (folder / "notes.txt").read_text() == "a learner's notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2"]  # no temporary file left


@pytest.mark.attack("wrong answer")
def test_fit_stops_when_nan_data_breaks_the_weights_and_keeps_the_best_epoch(tmp_path):
    torch.manual_seed(0)
    inputs, labels = torch.randn(64, 4), torch.randint(0, 2, (64,))
    good = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, labels), batch_size=16)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    manager = CheckpointManager(tmp_path, verbose=False)
    fit(model, good, good, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=1,
        device="cpu", progress=False, checkpoints=manager)
    best = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    broken = inputs.clone()
    broken[5, 0] = float("nan")
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(broken, labels), batch_size=16)
    with pytest.raises(TrainingDivergedError, match="no longer numbers") as error:
        fit(model, train, good, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=3,
            device="cpu", progress=False, checkpoints=manager)
    assert "epoch 2" in str(error.value) and "isfinite" in str(error.value)
    assert all(torch.equal(best[name], tensor) for name, tensor in model.state_dict().items())
    assert [path.name for path in manager.epoch_files()] == ["epoch_0001.pt"]  # the broken epoch is not saved


@pytest.mark.attack("wrong answer")
def test_fit_stops_when_a_learning_rate_far_too_high_breaks_the_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(TrainingDivergedError, match="learning rate is too high"):
        fit(model, *[torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,))), batch_size=16)] * 2, nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=1e38), epochs=3, device="cpu", progress=False)


@pytest.mark.attack("wrong answer")
def test_fit_names_validation_data_that_gives_no_finite_loss():
    inputs, labels = torch.randn(64, 4), torch.randint(0, 2, (64,))
    broken = inputs.clone()
    broken[0, 1] = float("inf")
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, labels), batch_size=16)
    valid = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(broken, labels), batch_size=16)
    model = nn.Linear(4, 2)
    with pytest.raises(ValueError) as error:
        fit(model, train, valid, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
            device="cpu", progress=False)
    assert_clear_error(error.value, "validation data holds nan or infinite values", "epoch 1")
