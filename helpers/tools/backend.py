"""Where the course's tasks run: local processes by default, or an existing Dask cluster.

``run``, ``execute`` and ``grade`` hand their tasks (one notebook run, one
graded submission) to an executor from :func:`task_executor`: the standard
library's process pool on this machine, or, with ``--cluster ADDRESS``, Dask's
executor for ``dask.distributed.Client(ADDRESS)``, so that the same tasks run on
a department's cluster (started by dask-jobqueue on Slurm or dask-kubernetes).
Dask is the optional extra ``cluster``: ``pip install ".[cluster]"``. Workers
must see the same files as this machine (a shared file system) and have the
course installed.

Example:
    >>> with task_executor(jobs=1) as executor:
    ...     executor.submit(pow, 2, 5).result()
    32
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

CLUSTER_CONNECT_SECONDS = 30


class BackendError(RuntimeError):
    """A cluster that cannot be used: the message says what to do."""


@contextmanager
def task_executor(jobs: int = 1, cluster: str | None = None) -> Iterator[Executor]:
    """Yield an executor: ``jobs`` local processes, or the Dask cluster at ``cluster`` (its own worker count)."""
    if cluster is None:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError:
        raise BackendError("--cluster needs Dask's distributed package, which the course leaves optional: "
                           'pip install ".[cluster]" (or pip install distributed), then run again.') from None
    try:
        client = Client(cluster, timeout=CLUSTER_CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as error:
        raise BackendError(f"no Dask scheduler answered at {cluster} ({type(error).__name__}: {error}). Start one "
                           "(dask scheduler, or dask-jobqueue/dask-kubernetes) and give its address, e.g. "
                           "--cluster tcp://10.0.0.5:8786.") from None
    with client:
        yield client.get_executor()
