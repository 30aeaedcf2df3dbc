"""Spies for the durability tests: which files were synced and renamed, in what order."""

import os
from pathlib import Path


def record_syncs_and_renames(monkeypatch) -> list[str]:
    """Record, in order, each ``os.fsync`` as ``"fsync"`` and each ``os.replace`` as ``"replace <name>"``."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append("fsync")
        real_fsync(descriptor)

    def replace(source, target) -> None:
        events.append(f"replace {Path(target).name}")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def assert_each_rename_is_durable(events: list[str], names: list[str]) -> None:
    """Each of ``names`` was renamed into place after its bytes were synced, and its folder was synced after."""
    renames = [index for index, event in enumerate(events) if event.startswith("replace ")]
    assert [events[index].removeprefix("replace ") for index in renames] == names
    for previous, index in zip([-1] + renames, renames):
        assert "fsync" in events[previous + 1:index], f"{events[index]} came before its file was synced: {events}"
    after_last = events[renames[-1] + 1:]
    assert "fsync" in after_last or os.name != "posix", f"the folder was not synced after the last rename: {events}"
