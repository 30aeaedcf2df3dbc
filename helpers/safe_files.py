"""Files written safely: temporary files named after their writer, and tidied when it died.

A writer that is killed (``kill -9``, a closed laptop lid, a Colab disconnect)
cannot delete its temporary files. The course names each one after the process
that writes it (``.epoch_0003.pt.4242.tmp``), so the next run can tell a file
another live process is still writing from one whose writer is gone, and
remove only the latter.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path


def process_is_alive(pid: int) -> bool:
    """Return whether a process with this id is running (``True`` when this cannot be told).

    Example:
        >>> process_is_alive(os.getpid())
        True
    """
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows: never guess there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def remove_stale_temporaries(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Remove the entries of ``folder`` matching ``pattern`` whose writer (group ``pid``) is dead.

    Example:
        >>> pattern = re.compile(r"^\\..+\\.(?P<pid>\\d+)\\.tmp$")
        >>> remove_stale_temporaries(Path("checkpoints"), pattern)  # doctest: +SKIP
        [PosixPath('checkpoints/.epoch_0003.pt.4242.tmp')]
    """
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        match = pattern.match(entry.name)
        if match is None or int(match.group("pid")) == os.getpid() or process_is_alive(int(match.group("pid"))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def exclusive_temporary(target: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create a new empty file beside ``target`` for writing it; return its descriptor and path.

    The file is named after its writer (``.report.html.4242.k3j9x.tmp``) and made by
    ``tempfile.mkstemp``: created exclusively (``O_EXCL``), so a file or link a
    neighbour planted under a guessed name is never written through.

    Raises ``IsADirectoryError`` before making anything when ``target`` is a folder,
    which the rename onto it would otherwise fail on only after all the writing.

    Example:
        >>> descriptor, path = exclusive_temporary(Path(tempfile.gettempdir()) / "notes.txt")
        >>> os.close(descriptor); path.unlink()
    """
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(f"Cannot write {target.name}: {target} is a folder. Move that folder away (or "
                                "write to another path), then run again.")
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix, dir=target.parent)
    return descriptor, Path(name)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable: ``fsync`` the folder itself (POSIX; Windows cannot open a folder).

    Example:
        >>> sync_folder(Path(tempfile.gettempdir()))
    """
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_synced(temporary: Path, target: Path) -> None:
    """Sync the finished file ``temporary`` to disk, rename it to ``target``, then sync the folder.

    For a file another library wrote by name (``torch.onnx.export``): its bytes
    reach the disk before the name points at them, and the name survives a crash.

    Example:
        >>> folder = Path(tempfile.mkdtemp()); (folder / ".new").write_text("x")
        1
        >>> replace_synced(folder / ".new", folder / "model.onnx"); (folder / "model.onnx").read_text()
        'x'
    """
    with open(temporary, "r+b") as file:
        os.fsync(file.fileno())
    os.replace(temporary, target)
    sync_folder(target.parent)


def _mode_for(path: Path) -> int:
    """The permissions a plain ``open(path, "w")`` would give: the old file's, else 0o666 less the umask."""
    if path.is_file() and not path.is_symlink():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through an exclusive temporary file and a rename: old file or new, never half.

    A link at ``path`` itself is replaced, never written through.

    Example:
        >>> path = write_atomically(Path(tempfile.mkdtemp()) / "notes.txt", "hello")
        >>> path.read_text()
        'hello'
    """
    path = Path(path)
    descriptor, temporary = exclusive_temporary(path)
    try:
        if hasattr(os, "fchmod"):  # Windows has it from Python 3.13
            os.fchmod(descriptor, _mode_for(path))
        with os.fdopen(descriptor, "wb") as file:
            file.write(data.encode("utf-8") if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(path.parent)
    return path
