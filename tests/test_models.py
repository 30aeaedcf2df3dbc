"""The models notebooks 04 and 05 graduate into helpers.models and helpers.pretrained, and the shipped backbone."""

import hashlib
import importlib.util
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from torch import nn

from helpers.course import facts, prepare
from helpers.models import (
    conv_output_size,
    count_parameters,
    freeze,
    make_classifier,
    make_small_backbone,
    make_small_cnn,
    trainable_parameters,
)
from helpers.pretrained import (
    BACKBONE_FILE,
    BACKBONE_SHA256,
    WeightsUnavailableError,
    build_transfer_model,
    imagenet_weights,
    load_imagenet_model,
    load_pretrained_backbone,
    published_metrics,
    weights_cache_path,
)
from helpers.shapes import SHAPE_CLASSES, make_shapes

SHIPPED = facts.CHECKOUT_ROOT / "data" / "pretrained"


def test_the_cheat_sheet_classifier_has_named_layers_and_gives_log_probabilities():
    classifier = make_classifier(2048, 512, 2)
    assert [name for name, _ in classifier.named_children()] == ["fc1", "relu", "dropout", "fc2", "output"]
    assert classifier[0] is classifier.fc1 and classifier.dropout.p == 0.2
    assert count_parameters(classifier).trainable == 2048 * 512 + 512 + 512 * 2 + 2
    log_probabilities = classifier.eval()(torch.randn(3, 2048))
    assert torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(3))


@pytest.mark.parametrize("size", [32, 64, 224])
def test_the_small_cnn_takes_every_preset_image_size(size):
    model = make_small_cnn(num_classes=2)
    assert model(torch.zeros(2, 3, size, size)).shape == (2, 2)
    assert count_parameters(model).total == 62_658 + 2 * (16 + 32 + 64 + 64)  # BatchNorm's weights and biases


def test_the_small_cnn_normalises_each_block_and_gives_logits_for_cross_entropy():
    model = make_small_cnn().eval()
    assert [type(getattr(model.features, name)) for name in ("conv1", "norm1", "relu1")] == [nn.Conv2d, nn.BatchNorm2d,
                                                                                      nn.ReLU]
    assert [name for name, _ in model.classifier.named_children()] == ["fc1", "relu", "dropout", "fc2"]
    outputs = model(torch.randn(3, 3, 32, 32))
    assert not torch.allclose(outputs.exp().sum(dim=1), torch.ones(3))  # raw scores, not log-probabilities


def test_the_classifier_without_log_softmax_gives_the_same_scores_before_normalising():
    torch.manual_seed(0)
    cheat_sheet = make_classifier(8, 4, 2).eval()
    torch.manual_seed(0)
    logits_head = make_classifier(8, 4, 2, log_softmax=False).eval()
    x = torch.randn(5, 8)
    assert torch.allclose(torch.log_softmax(logits_head(x), dim=1), cheat_sheet(x))


def test_conv_output_size_agrees_with_the_layers():
    for size in (7, 32, 48, 63):
        for layer, (k, s, p) in [(nn.Conv2d(1, 1, 3, padding=1), (3, 1, 1)), (nn.Conv2d(1, 1, 5), (5, 1, 0)),
                                 (nn.Conv2d(1, 1, 3, stride=2), (3, 2, 0)), (nn.MaxPool2d(2), (2, 2, 0))]:
            assert layer(torch.zeros(1, 1, size, size)).shape[-1] == conv_output_size(size, k, s, p)


def test_freezing_and_counting():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    freeze(model[0])
    counts = count_parameters(model)
    assert (counts.trainable, counts.frozen, counts.total) == (8, 15, 23)
    assert str(counts) == "8 trainable + 15 frozen = 23 parameters"
    assert trainable_parameters(model) == list(model[1].parameters())


def test_a_transfer_model_is_frozen_but_its_new_head():
    resnet18 = build_transfer_model("resnet18", num_classes=2)
    assert (resnet18.fc.in_features, resnet18.fc.out_features) == (512, 2)
    assert count_parameters(resnet18).trainable == 512 * 2 + 2
    tuned = build_transfer_model("resnet18", train_layers=("layer4",))
    assert count_parameters(tuned).trainable == 8_393_728 + 1026
    resnet50 = build_transfer_model("resnet50", hidden_units=512)
    assert resnet50.fc.fc1.in_features == 2048 and isinstance(resnet50.fc.output, nn.LogSoftmax)
    assert count_parameters(resnet50).trainable == 1_050_114


def test_published_metrics_are_torchvisions():
    assert published_metrics("resnet18") == {"weights": "IMAGENET1K_V1", "acc@1": 69.758, "acc@5": 89.078,
                                             "params": 11_689_512, "file_MB": 44.661}
    assert str(imagenet_weights("resnet50")) == "ResNet50_Weights.IMAGENET1K_V2"
    assert str(imagenet_weights("resnet50", "IMAGENET1K_V1")) == "ResNet50_Weights.IMAGENET1K_V1"


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch cache, and no network: any download attempt fails as it does offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def offline(url, *args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path


def test_the_weights_api_loads_from_a_seeded_cache(torch_home):
    weights = imagenet_weights("resnet18")
    state = build_transfer_model("resnet18", num_classes=1000).state_dict()
    state["fc.bias"] = torch.full((1000,), 0.125)
    cached = torch_home / "hub" / "checkpoints" / Path(weights.url).name
    assert weights_cache_path(weights) == cached
    cached.parent.mkdir(parents=True)
    torch.save(state, cached)

    model = load_imagenet_model("resnet18", "DEFAULT")
    assert torch.equal(model.fc.bias, state["fc.bias"])
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    transfer = build_transfer_model("resnet18", weights="DEFAULT")
    assert torch.equal(transfer.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])
    assert count_parameters(transfer).trainable == 1026


def test_without_cache_or_network_the_error_says_what_to_do(torch_home):
    with pytest.raises(WeightsUnavailableError) as caught:
        load_imagenet_model("resnet18")
    message = str(caught.value)
    assert "resnet18-f37072fd.pth" in message and "not in torch's cache" in message
    assert "URLError" in message and "Connect to the internet" in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert "No random weights" in message
    assert str(torch_home) not in message  # notebooks print it: no machine paths
    with pytest.raises(WeightsUnavailableError):
        build_transfer_model("resnet18", weights="DEFAULT")


def test_the_source_task_is_seeded_and_has_every_class():
    images, labels = make_shapes(60, size=32, seed=3)
    again, _ = make_shapes(60, size=32, seed=3)
    assert images.shape == (60, 3, 32, 32) and torch.equal(images, again)
    assert set(labels.tolist()) == set(range(len(SHAPE_CLASSES)))


def test_the_shipped_backbone_is_small_checked_and_loads():
    path = SHIPPED / BACKBONE_FILE
    assert path.stat().st_size < 400_000
    assert hashlib.sha256(path.read_bytes()).hexdigest() == BACKBONE_SHA256
    provenance = (SHIPPED / "PROVENANCE.md").read_text()
    assert BACKBONE_SHA256 in provenance and "python scripts/pretrain_backbone.py" in provenance
    backbone, card = load_pretrained_backbone(prepare.course_backbone_path())
    assert backbone(torch.zeros(2, 3, 64, 64)).shape == (2, 64)
    assert card["source_classes"] == list(SHAPE_CLASSES) and card["source_accuracy"] > 0.9
    assert not backbone.training


def test_outside_a_checkout_the_backbone_is_downloaded_with_its_checksum(tmp_path, monkeypatch):
    asked = {}

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        asked.update(url=url, known_hash=known_hash)
        return str(SHIPPED / fname)

    monkeypatch.setattr(facts, "CHECKOUT_ROOT", tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("pooch.retrieve", fake_retrieve)
    assert prepare.course_backbone_path().name == BACKBONE_FILE
    assert asked["url"].endswith(f"/{facts.PINNED_REF}/data/pretrained/{BACKBONE_FILE}")
    assert asked["known_hash"] == f"sha256:{BACKBONE_SHA256}"


def test_the_pretraining_script_writes_a_loadable_backbone_and_its_provenance(tmp_path):
    spec = importlib.util.spec_from_file_location("pretrain_backbone",
                                                  facts.CHECKOUT_ROOT / "scripts" / "pretrain_backbone.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--out", str(tmp_path), "--images", "32", "--epochs", "1", "--image-size", "32"])
    backbone, card = load_pretrained_backbone(tmp_path / BACKBONE_FILE)
    assert card["image_size"] == 32 and backbone(torch.zeros(1, 3, 32, 32)).shape == (1, 64)
    digest = hashlib.sha256((tmp_path / BACKBONE_FILE).read_bytes()).hexdigest()
    assert digest in (tmp_path / "PROVENANCE.md").read_text()


def test_the_small_backbone_matches_the_cnn_features():
    cnn, backbone = make_small_cnn(), make_small_backbone(batch_norm=True)
    backbone.features.load_state_dict(cnn.features.state_dict())
    assert list(backbone.state_dict()) == [k for k in cnn.state_dict() if not k.startswith("classifier.")]
