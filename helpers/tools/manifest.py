"""What a command wrote into an ``--out`` folder, so it replaces only its own files and never adopts others.

A learner's ``--out`` folder may already hold a ``report.html`` of their own, a
``plot_*.png``, notes, or a checkpoint folder from someone else's training. The
course writes a manifest, ``.pytorch-course-manifest.json``, listing every file
and folder a command made there. Before writing, a command checks each name it
is about to write: one that exists and is not in the manifest belongs to
someone else, and the command stops with a message instead of overwriting or
adopting it. Files are built elsewhere (a temporary file beside the target, or
a staging folder) and moved into place with one rename each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from helpers.safe_files import write_atomically

MANIFEST_NAME = ".pytorch-course-manifest.json"
MANIFEST_VERSION = 1


class ForeignFileError(ValueError):
    """A name in an ``--out`` folder that a command would write, held by a file or folder it did not make."""


class OutputFolder:
    """An ``--out`` folder and its manifest: the files and folders this course's commands made in it.

    Example:
        >>> import tempfile
        >>> out = OutputFolder(Path(tempfile.mkdtemp()) / "runs", command="run")
        >>> out.write("report.md", "# Course run").name
        'report.md'
        >>> out.owns("report.md"), out.owns("notes.txt")
        (True, False)
    """

    def __init__(self, folder: str | os.PathLike, command: str) -> None:
        self.folder = Path(folder)
        self.command = command
        self.files, self.folders = self._read()

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def _read(self) -> tuple[set[str], set[str]]:
        path = self.manifest_path
        if not path.is_file() or path.is_symlink():
            return set(), set()
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            files, folders = stored["files"], stored["folders"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return set(), set()  # damaged: nothing in the folder counts as ours
        return ({name for name in files if self._is_inside(name)},
                {name for name in folders if self._is_inside(name)})

    @staticmethod
    def _is_inside(name: object) -> bool:
        return isinstance(name, str) and bool(name) and not PurePosixPath(name).is_absolute() \
            and ".." not in PurePosixPath(name).parts

    def _relative(self, path: str | os.PathLike) -> str:
        """``path`` as a name inside the folder: given relative to it, or as a path below it."""
        path = Path(path)
        try:
            path = path.relative_to(self.folder)
        except ValueError:
            pass
        name = PurePosixPath(*path.parts).as_posix()
        if not self._is_inside(name):
            raise ValueError(f"{path} is not inside --out {self.folder}")
        return name

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` (relative to the folder, or below it) was made by a course command."""
        name = self._relative(path)
        return name in self.files or name in self.folders

    def foreign(self, paths: list[str | os.PathLike]) -> list[Path]:
        """Return those of ``paths`` that exist (a file, a folder or a link) and the course did not make."""
        found = []
        for path in paths:
            parts = PurePosixPath(self._relative(path)).parts
            for depth in range(1, len(parts) + 1):  # the path, and every folder on the way to it
                name = PurePosixPath(*parts[:depth]).as_posix()
                target = self.folder / name
                if (target.exists() or target.is_symlink()) and not self.owns(name):
                    found.append(target)
                    break
        return list(dict.fromkeys(found))

    def check_can_write(self, paths: list[str | os.PathLike]) -> None:
        """Raise :class:`ForeignFileError` if any of ``paths`` is someone else's file or folder."""
        if self.folder.is_symlink():
            raise ForeignFileError(f"--out {self.folder} is a link: give the folder itself, so that nothing is "
                                   "written somewhere you did not name.")
        foreign = self.foreign(paths)
        if foreign:
            shown = ", ".join(str(path) for path in foreign[:3]) + (f" and {len(foreign) - 3} more"
                                                                    if len(foreign) > 3 else "")
            raise ForeignFileError(f"{shown} already exist{'s' if len(foreign) == 1 else ''} in --out {self.folder} "
                                   f"and no `{self.command}` made {'it' if len(foreign) == 1 else 'them'}: "
                                   "they would be overwritten or taken over. Choose another --out folder, or move "
                                   "them away.")

    def _save(self) -> None:
        manifest = {"version": MANIFEST_VERSION, "files": sorted(self.files), "folders": sorted(self.folders)}
        write_atomically(self.manifest_path, json.dumps(manifest, indent=1) + "\n")

    def make_folder(self, path: str | os.PathLike) -> Path:
        """Make a folder and those on the way to it (recorded in the manifest), or reuse ones a command made."""
        self.check_can_write([path])
        self.folder.mkdir(parents=True, exist_ok=True)
        parts = PurePosixPath(self._relative(path)).parts
        for depth in range(1, len(parts) + 1):
            name = PurePosixPath(*parts[:depth]).as_posix()
            if name not in self.folders:
                self.folders.add(name)
                self._save()  # recorded before it is made: a kill in between leaves nothing unlisted
            (self.folder / name).mkdir(exist_ok=True)
        return self.folder / PurePosixPath(*parts)

    def record(self, path: str | os.PathLike) -> None:
        """Add a file this command just made to the manifest."""
        name = self._relative(path)
        if name not in self.files:
            self.files.add(name)
            self._save()

    def write(self, path: str | os.PathLike, data: bytes | str) -> Path:
        """Write a file atomically, if it is new or the course's own; record it."""
        target = self._prepare(path)
        return write_atomically(target, data)

    def place(self, built: Path, path: str | os.PathLike) -> Path:
        """Move a file built elsewhere in the same file system onto ``path`` with one rename; record it."""
        target = self._prepare(path)
        os.replace(built, target)
        return target

    def _prepare(self, path: str | os.PathLike) -> Path:
        """Check ``path`` is free or ours, make its folders and record it (first: a kill leaves nothing unlisted)."""
        self.check_can_write([path])
        name = self._relative(path)
        parent = PurePosixPath(name).parent
        if parent != PurePosixPath("."):
            self.make_folder(parent.as_posix())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.record(name)
        return self.folder / name
