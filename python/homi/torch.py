"""homi.torch - fixed-size records from one or more files, read by HOMI straight
into preallocated (CUDA) batches, for PyTorch training loops.  torch is imported
only when a torch device is used; with device=None the batches are NumPy arrays.

    ds = homi.torch.ShardDataset(["a.bin", "b.bin"], record_size=4096, device="cuda")
    for batch in ds.batches(256, shuffle=True, seed=0):   # uint8 (256, 4096) on the GPU
        train_step(batch.view(torch.float32))
    x = ds[17]                                            # one record, like a map dataset
"""
import bisect
import collections

import numpy as _np

from . import Engine, _alloc


class ShardDataset:
    """Map-style dataset of fixed-size records stored back to back in one or more
    files (an optional header of header bytes at the start of each file is skipped;
    a partial record at the end of a file is ignored).

    ds[i] reads record i into a new array/tensor; len(ds) is the record count;
    ds.__getitems__(indices) reads several at once (PyTorch's DataLoader uses it
    when collate_fn=homi.torch.no_collate); ds.batches(...) is the fast path:
    depth preallocated batch buffers, reads of the next depth-1 batches in
    flight while the caller uses the current one.

    device: "cuda", "cuda:N", a torch.device (torch tensors), "cupy[:N]" (CuPy
    arrays) or None (NumPy arrays).  engine: an Engine to use (else one is
    created from hints and closed by close())."""

    def __init__(self, paths, record_size, *, device="cuda", header=0, engine=None, **hints):
        if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
            paths = [paths]
        if record_size <= 0 or header < 0:
            raise ValueError("record_size must be > 0 and header >= 0")
        self.record_size = int(record_size)
        self.header = int(header)
        self.device = device
        self._own_engine = engine is None
        self.engine = Engine(**hints) if engine is None else engine
        self.files = []
        self._starts = [0]  # first record index of each file, then the total
        try:
            for p in paths:
                f = self.engine.open(p)
                self.files.append(f)
                n = max(0, f.size - self.header) // self.record_size
                self._starts.append(self._starts[-1] + n)
        except BaseException:
            self.close()
            raise

    def __len__(self):
        return self._starts[-1]

    def locate(self, i):
        """(file, byte offset) of record i."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record %d out of range (%d records)" % (i, n))
        k = bisect.bisect_right(self._starts, i) - 1
        return self.files[k], self.header + (i - self._starts[k]) * self.record_size

    def _runs(self, indices):
        """Group indices into (file, offset, first row, rows): consecutive records
        of one file become one read."""
        runs = []
        for row, i in enumerate(indices):
            f, off = self.locate(int(i))
            if runs:
                pf, poff, prow, pn = runs[-1]
                if pf is f and poff + pn * self.record_size == off:
                    runs[-1] = (pf, poff, prow, pn + 1)
                    continue
            runs.append((f, off, row, 1))
        return runs

    def _submit(self, buf, indices):
        futs = []
        for f, off, row, n in self._runs(indices):
            futs.append((f.pread_async(buf[row : row + n], off), n * self.record_size))
        return futs

    @staticmethod
    def _finish(futs):
        for fut, want in futs:
            got = fut.result()
            if got != want:
                raise EOFError("short read: %d of %d bytes (file shrank?)" % (got, want))

    def __getitem__(self, i):
        f, off = self.locate(i)
        out = _alloc.empty((self.record_size,), self.device)
        n = f.pread(out, off)
        if n != self.record_size:
            raise EOFError("short read: %d of %d bytes (file shrank?)" % (n, self.record_size))
        return out

    def __getitems__(self, indices):
        out = _alloc.empty((len(indices), self.record_size), self.device)
        self._finish(self._submit(out, indices))
        return out

    def batches(self, batch_size, *, shuffle=False, seed=None, indices=None, depth=3, drop_last=False):
        """Iterate over batches of batch_size records as uint8 arrays/tensors of shape
        (rows, record_size).  The records: indices if given, else all, shuffled with
        seed when shuffle.  depth buffers are allocated once; a yielded batch stays
        valid until the next iteration (clone it to keep it), while the reads of the
        following depth-1 batches are in flight."""
        if batch_size <= 0 or depth < 1:
            raise ValueError("batch_size and depth must be positive")
        if indices is None:
            indices = _np.arange(len(self))
            if shuffle:
                _np.random.default_rng(seed).shuffle(indices)
        indices = _np.asarray(indices, dtype=_np.int64)
        groups = [indices[s : s + batch_size] for s in range(0, len(indices), batch_size)]
        if drop_last and groups and len(groups[-1]) < batch_size:
            groups.pop()
        if not groups:
            return
        depth = min(depth, len(groups))
        bufs = [_alloc.empty((batch_size, self.record_size), self.device) for _ in range(depth)]
        sync = self._stream_sync()
        inflight = collections.deque()
        nxt = 0
        try:
            while nxt < depth:
                inflight.append((bufs[nxt % depth], len(groups[nxt]), self._submit(bufs[nxt % depth], groups[nxt])))
                nxt += 1
            while inflight:
                buf, rows, futs = inflight.popleft()
                self._finish(futs)
                yield buf[:rows]
                if nxt < len(groups):
                    sync()  # GPU work the caller queued on the batch is done before refilling it
                    b = bufs[nxt % depth]
                    inflight.append((b, len(groups[nxt]), self._submit(b, groups[nxt])))
                    nxt += 1
        finally:
            for _, _, futs in inflight:  # never leave reads into buffers we drop
                for fut, _ in futs:
                    fut.exception()

    def _stream_sync(self):
        lib, idx = _alloc._parse(self.device)
        if lib == "torch":
            import torch

            return lambda: torch.cuda.current_stream(idx).synchronize()
        if lib == "cupy":
            import cupy

            return lambda: cupy.cuda.get_current_stream().synchronize()
        return lambda: None

    def stats(self):
        """Per-file statistics (File.stats() of each file, in order)."""
        return [f.stats() for f in self.files]

    def close(self):
        for f in self.files:
            f.close()
        if self._own_engine:
            self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def no_collate(batch):
    """collate_fn for torch.utils.data.DataLoader(ds, batch_size=..., collate_fn=no_collate):
    ShardDataset.__getitems__ already returns the batch as one tensor."""
    return batch
