import pytest

from helpers.course.presets import PRESETS, preset_name, resolve_settings


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PRESET", "full")
    assert preset_name("smoke") == "smoke"


def test_environment_beats_default(monkeypatch):
    monkeypatch.setenv("COURSE_PRESET", "smoke")
    assert resolve_settings(None).preset == "smoke"


def test_default_is_class(monkeypatch):
    monkeypatch.delenv("COURSE_PRESET", raising=False)
    assert resolve_settings().preset == "class"


def test_none_keeps_the_preset_value_and_a_value_overrides_it():
    settings = resolve_settings("smoke", epochs=None, image_size=48)
    assert settings.epochs == PRESETS["smoke"].epochs
    assert settings.image_size == 48


def test_unknown_preset_says_what_to_use():
    with pytest.raises(ValueError, match="smoke, class, full"):
        resolve_settings("tiny")


def test_unknown_setting_is_refused():
    with pytest.raises(TypeError, match="epochz"):
        resolve_settings("smoke", epochz=3)


def test_presets_grow_from_smoke_to_full():
    smoke, klass, full = PRESETS["smoke"], PRESETS["class"], PRESETS["full"]
    assert smoke.images_per_class < klass.images_per_class < full.images_per_class
    assert smoke.image_size <= klass.image_size <= full.image_size
    assert full.use_real_data and not klass.use_real_data
