"""What a command wrote into an ``--out`` folder, so it replaces only its own files and never adopts others.

A learner's ``--out`` folder may already hold a ``report.html`` of their own, a
``plot_*.png``, notes, or a checkpoint folder from someone else's training. The
course writes a manifest, ``.pytorch-course-manifest.json``, listing every file
(with its SHA-256) and folder a command made there. Before writing, a command
checks each name it is about to write: one that exists and is not in the
manifest belongs to someone else, and so does a file changed since the course
wrote it (a learner's notes in an executed notebook); the command stops with a
message instead of overwriting or adopting it. Files are built elsewhere (a temporary file beside the target, or
a staging folder) and moved into place with one rename each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from helpers.safe_files import write_atomically

MANIFEST_NAME = ".pytorch-course-manifest.json"
MANIFEST_VERSION = 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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

    def _read(self) -> tuple[dict[str, list[str]], set[str]]:
        path = self.manifest_path
        if not path.is_file() or path.is_symlink():
            return {}, set()
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            files, folders = dict(stored["files"]), list(stored["folders"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return {}, set()  # damaged: nothing in the folder counts as ours
        return ({name: [str(d) for d in (digests if isinstance(digests, list) else [digests])]
                 for name, digests in files.items() if self._is_inside(name)},
                {name for name in folders if self._is_inside(name)})

    @staticmethod
    def _is_inside(name: object) -> bool:
        return isinstance(name, str) and bool(name) and not PurePosixPath(name).is_absolute() \
            and ".." not in PurePosixPath(name).parts

    def _relative(self, path: str | os.PathLike) -> str:
        """``path`` as a name inside the folder: given relative to it, or as a path below it."""
        path = Path(path)
        with contextlib.suppress(ValueError):  # not below the folder: a name relative to it already
            path = path.relative_to(self.folder)
        name = PurePosixPath(*path.parts).as_posix()
        if not self._is_inside(name):
            raise ValueError(f"{path} is not inside --out {self.folder}")
        return name

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` (relative to the folder, or below it) was made by a course command, and is unchanged."""
        name = self._relative(path)
        if name in self.folders:
            target = self.folder / name
            return target.is_dir() and not target.is_symlink()
        target = self.folder / name
        if name not in self.files or target.is_symlink():
            return False
        return not target.exists() or (target.is_file() and sha256_of(target) in self.files[name])

    def foreign(self, paths: Sequence[str | os.PathLike]) -> list[Path]:
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

    def check_can_write(self, paths: Sequence[str | os.PathLike]) -> None:
        """Raise :class:`ForeignFileError` if any of ``paths`` is someone else's file or folder."""
        if self.folder.is_symlink():
            raise ForeignFileError(f"--out {self.folder} is a link: give the folder itself, so that nothing is "
                                   "written somewhere you did not name.")
        foreign = self.foreign(paths)
        if foreign:
            shown = ", ".join(str(path) for path in foreign[:3]) + (f" and {len(foreign) - 3} more"
                                                                    if len(foreign) > 3 else "")
            raise ForeignFileError(f"{shown} already exist{'s' if len(foreign) == 1 else ''} in --out {self.folder} "
                                   f"and no `{self.command}` made {'it' if len(foreign) == 1 else 'them'} (or "
                                   "they changed since): "
                                   "they would be overwritten or taken over. Choose another --out folder, or move "
                                   "them away.")

    def _save(self) -> None:
        manifest = {"version": MANIFEST_VERSION, "files": dict(sorted(self.files.items())),
                    "folders": sorted(self.folders)}
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

    def record(self, path: str | os.PathLike, sha256: str, replacing: bool = True) -> None:
        """Add a file this command makes (with the SHA-256 of its content) to the manifest.

        While ``replacing``, the content it replaces stays listed too, so that a kill
        between this and the rename leaves a file the next run still calls its own.
        """
        name = self._relative(path)
        kept = [digest for digest in self.files.get(name, []) if replacing and digest != sha256][-1:]
        if self.files.get(name) != [*kept, sha256]:
            self.files[name] = [*kept, sha256]
            self._save()

    def write(self, path: str | os.PathLike, data: bytes | str) -> Path:
        """Write a file atomically, if it is new or the course's own; record it."""
        data = data.encode("utf-8") if isinstance(data, str) else data
        digest = hashlib.sha256(data).hexdigest()
        target = write_atomically(self._prepare(path, digest), data)
        self.record(path, digest, replacing=False)
        return target

    def place(self, built: Path, path: str | os.PathLike) -> Path:
        """Move a file built elsewhere in the same file system onto ``path`` with one rename; record it."""
        digest = sha256_of(built)
        target = self._prepare(path, digest)
        os.replace(built, target)
        self.record(path, digest, replacing=False)
        return target

    def _prepare(self, path: str | os.PathLike, sha256: str) -> Path:
        """Check ``path`` is free or ours, make its folders and record it (first: a kill leaves nothing unlisted)."""
        self.check_can_write([path])
        name = self._relative(path)
        parent = PurePosixPath(name).parent
        if parent != PurePosixPath("."):
            self.make_folder(parent.as_posix())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.record(name, sha256)
        return self.folder / name
