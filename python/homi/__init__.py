"""homi - read files into host or CUDA device memory through HOMI.

A thin layer over libhomi (see docs/python.md):

    import homi, numpy as np
    with homi.Engine(threads=8) as eng, eng.open("data.bin") as f:
        a = np.empty(1 << 20, np.uint8)
        n = f.pread(a, offset=0)           # NumPy, bytearray, memoryview, CuPy, torch ...
        x = f.read(device="cupy")          # whole file as a CuPy array
        print(f.stats()["paths"]["kernel"]["bytes"])
"""
import builtins as _builtins
import time as _time

from . import _alloc, _homi
from ._homi import (  # noqa: F401  (re-exported)
    EACCES,
    EBADF,
    EBUSY,
    EHINT,
    EHINTVAL,
    EINVAL,
    EIO,
    EISDIR,
    ENOENT,
    ENOMEM,
    ENOTREG,
    ENOTSUP,
    ERANGE,
    ESYS,
    ETIMEDOUT,
    FALLBACKS,
    PATHS,
    FileNotFoundError,
    Future,
    HomiError,
    IsADirectoryError,
    PermissionError,
    TimeoutError,
    cuda_available,
    strerror,
)

__version__ = _homi.libhomi_version
__all__ = [
    "Engine",
    "File",
    "Future",
    "HomiError",
    "wait",
    "info",
    "cuda_available",
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "__version__",
]

ALL_COMPLETED = "ALL_COMPLETED"
FIRST_COMPLETED = "FIRST_COMPLETED"


class Engine(_homi.Engine):
    """Engine(*, use_env=True, **hints): one HOMI engine (worker rings, control plane,
    GPU staging pool).  Hints are configuration keys of docs/hints.md, with or without
    the ``homi_`` prefix: ``Engine(threads=8, direct=True, chunk_size="4M")``.  The
    ``HOMI_*`` environment applies first; keyword hints override it."""

    def open(self, path):
        """Open path read-only; returns a homi.File (also a context manager)."""
        return File(self, path)

    def __repr__(self):
        return "<homi.Engine %s>" % ("closed" if self.closed else "open")


class File(_homi.File):
    """A file opened read-only through an Engine (``engine.open(path)``)."""

    def read(self, size=-1, offset=0, device=None, dtype=None):
        """Read size bytes (-1: to the end of the file) from offset into a new array.

        device None gives a NumPy array; "cupy" / "cupy:N" a CuPy array; "torch",
        "cuda", "cuda:N" or a torch.device a torch CUDA tensor; an int N a CuPy array
        on GPU N (torch when CuPy is missing).  dtype (default uint8) sets the element
        type; size must be a multiple of its item size.  A short read (end of file)
        returns an array of the elements read."""
        if offset < 0:
            raise ValueError("offset must be >= 0, got %d" % offset)
        if size is None or size < 0:
            size = max(0, self.size - offset)
        arr, itemsize = _alloc.empty((size,), device, dtype, nbytes=True)
        n = self.pread(arr, offset)
        if n < size:
            arr = arr[: n // itemsize]
        return arr

    def __repr__(self):
        return "<homi.File %r%s>" % (self.name, " closed" if self.closed else "")


def wait(futures, timeout=None, return_when=ALL_COMPLETED):
    """Wait for homi Futures like concurrent.futures.wait: returns (done, not_done)
    lists (in the order given).  return_when is ALL_COMPLETED or FIRST_COMPLETED.
    Failed reads count as done (their result() raises)."""
    futures = list(futures)
    end = None if timeout is None else _time.monotonic() + timeout
    if return_when == ALL_COMPLETED:
        for f in futures:
            left = None if end is None else max(0.0, end - _time.monotonic())
            try:
                f.exception(left)
            except _builtins.TimeoutError:
                break
    elif return_when == FIRST_COMPLETED:
        while not any(f.done() for f in futures):
            if end is not None and _time.monotonic() >= end:
                break
            _time.sleep(20e-6)
    else:
        raise ValueError("return_when must be ALL_COMPLETED or FIRST_COMPLETED")
    done = [f for f in futures if f.done()]
    return done, [f for f in futures if not f.done()]


def info(path=None, sync=False, max_extents=64, hints=False, engine=None):
    """What ``homi-info [--sync] [--max N] [--hints] [path]`` prints, as a string: the
    paths (available or why not), NVMe namespaces, with hints=True every configuration
    key, and for path its device, O_DIRECT alignment and extent map with the path each
    range takes and why.  engine None uses a temporary engine (HOMI_* environment)."""
    return _homi.info(engine, path, sync, max_extents, hints)


def __getattr__(name):
    # homi.torch without importing it (or torch) up front
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError("module 'homi' has no attribute %r" % name)
