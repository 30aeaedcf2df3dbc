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
