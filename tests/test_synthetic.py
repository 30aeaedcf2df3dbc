import hashlib

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from helpers.data import patient_of
from helpers.synthetic import (
    CLASSES,
    LABEL_NOISE,
    NotACourseFolderError,
    flipped_files,
    make_synthetic_cells,
    png_bytes,
)


def digest(root):
    files = sorted(p for folder in CLASSES for p in (root / folder).glob("*.png"))
    return [(p.parent.name, p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return make_synthetic_cells(tmp_path_factory.mktemp("cells") / "cells", per_class=300, seed=3)


@pytest.mark.slow
def test_layout_and_nih_style_names(cells):
    names = {folder: sorted(p.name for p in (cells / folder).glob("*.png")) for folder in CLASSES}
    assert abs(len(names["Parasitized"]) - 300) < 15  # a few labels are deliberately wrong, both ways
    assert len(names["Parasitized"]) + len(names["Uninfected"]) == 600
    for name in names["Parasitized"][:20]:
        assert patient_of(name).startswith("C") and "thinF_IMG_2015" in name
    assert len({patient_of(n) for n in names["Uninfected"]}) > 20


def test_images_are_valid_rgb_pngs_of_varied_sizes(cells):
    sizes = set()
    for path in sorted((cells / "Parasitized").glob("*.png"))[:50]:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.mode == "RGB" and image.width == image.height
            sizes.add(image.width)
    assert min(sizes) >= 40 and max(sizes) <= 200 and len(sizes) > 15


@pytest.mark.slow
def test_generator_is_deterministic_whatever_the_workers(tmp_path):
    one = make_synthetic_cells(tmp_path / "a", per_class=120, seed=7, workers=1)
    two = make_synthetic_cells(tmp_path / "b", per_class=120, seed=7, workers=2)
    assert digest(one) == digest(two)
    assert [p.relative_to(one) for p in flipped_files(one)] == [p.relative_to(two) for p in flipped_files(two)]
    other_seed = make_synthetic_cells(tmp_path / "c", per_class=120, seed=8, workers=1)
    assert digest(other_seed) != digest(one)


def test_same_arguments_reuse_and_other_arguments_regenerate(tmp_path):
    root = make_synthetic_cells(tmp_path / "cells", per_class=10, seed=0, image_size=48)
    first_image = sorted((root / "Parasitized").glob("*.png"))[0]
    inode = first_image.stat().st_ino
    make_synthetic_cells(tmp_path / "cells", per_class=10, seed=0, image_size=48)
    assert first_image.stat().st_ino == inode  # reused, not rewritten
    make_synthetic_cells(tmp_path / "cells", per_class=12, seed=0, image_size=48)
    assert sum(1 for _ in root.rglob("*.png")) == 24
    assert [p.name for p in tmp_path.iterdir()] == ["cells"]  # no partial folder left behind


def test_a_file_the_learner_added_stops_the_replacement(tmp_path):
    root = make_synthetic_cells(tmp_path / "cells", per_class=10, seed=0, image_size=48)
    (root / "Parasitized" / "kept.txt").write_text("mine")
    with pytest.raises(NotACourseFolderError, match=r"Parasitized/kept\.txt"):
        make_synthetic_cells(tmp_path / "cells", per_class=12, seed=0, image_size=48)
    assert (root / "Parasitized" / "kept.txt").read_text() == "mine"
    assert sum(1 for _ in root.rglob("*.png")) == 20


def test_png_writer_round_trips(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    (tmp_path / "x.png").write_bytes(png_bytes(image))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), image)


@pytest.mark.slow
def test_colour_and_area_alone_do_not_separate_the_classes(cells):
    features, labels = [], []
    for label, folder in enumerate(CLASSES):
        for path in sorted((cells / folder).glob("*.png")):
            pixels = np.asarray(Image.open(path), dtype=np.float32)
            inside = pixels.sum(axis=2) > 60
            features.append([*pixels.reshape(-1, 3).mean(axis=0), inside.mean(), pixels.shape[0]])
            labels.append(label)
    features, labels = np.array(features), np.array(labels)
    mean_colour = cross_val_score(LogisticRegression(max_iter=2000), features[:, :3], labels, cv=5).mean()
    everything = cross_val_score(LogisticRegression(max_iter=2000), features, labels, cv=5).mean()
    assert mean_colour < 0.65 and everything < 0.65


def test_making_the_images_shows_progress_and_reusing_them_shows_none(tmp_path, capsys):
    root = make_synthetic_cells(tmp_path / "cells", per_class=110, seed=2, workers=2, progress=True)
    shown = capsys.readouterr().out
    assert "making 220 synthetic cell images (once)" in shown and "220/220" in shown
    assert sum(1 for _ in root.glob("*/*.png")) == 220
    make_synthetic_cells(tmp_path / "cells", per_class=110, seed=2, workers=2, progress=True)
    assert capsys.readouterr().out == ""


def test_the_flipped_files_are_recorded_at_the_label_noise_rate(cells):
    flipped = flipped_files(cells)
    assert all(path.is_file() and path.parent.name in CLASSES for path in flipped)
    expected, spread = 600 * LABEL_NOISE, (600 * LABEL_NOISE * (1 - LABEL_NOISE)) ** 0.5
    assert abs(len(flipped) - expected) < 4 * spread



def test_the_images_reach_the_disk_before_the_folder_is_renamed_into_place(tmp_path, monkeypatch):
    from helpers import synthetic_folder

    events = []
    root = tmp_path / "cells"

    def partial_folders():
        return [path.name for path in tmp_path.glob(".cells.partial-*")]

    monkeypatch.setattr(synthetic_folder.os, "sync", lambda: events.append(("sync", partial_folders())))
    monkeypatch.setattr(synthetic_folder, "sync_folder", lambda folder: events.append(("sync_folder", folder)))
    for seed in (0, 1):  # a new folder, then another seed's images replacing the course's own
        events.clear()
        make_synthetic_cells(root, per_class=2, seed=seed, image_size=16, workers=1)
        (sync, images_not_yet_in_place), (sync_folder, folder) = events
        assert sync == "sync" and len(images_not_yet_in_place) == 1  # flushed while still in the partial folder
        assert sync_folder == "sync_folder" and folder == tmp_path  # then the rename itself
        assert partial_folders() == [] and len(list(root.glob("*/*.png"))) == 4
