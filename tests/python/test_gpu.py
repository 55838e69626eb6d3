"""GPU tests of the homi Python module: reads into CuPy arrays and PyTorch CUDA
tensors (and Numba device arrays when installed) checked byte for byte against
os.pread, bad device destinations, futures, stream-ordered reads, reference
counts, the GIL, and homi.torch.ShardDataset feeding a loop.  Skipped (run_pytest.py
exits 77) without a CUDA build of libhomi, a GPU, or CuPy and PyTorch."""
import os
import random
import sys
import threading
import time

import numpy as np
import pytest

import homi

if not homi.cuda_available():
    pytest.skip("libhomi has no CUDA or no GPU is usable here", allow_module_level=True)
try:
    import cupy
except ImportError:
    cupy = None
try:
    import torch

    if not torch.cuda.is_available():
        torch = None
except ImportError:
    torch = None
if cupy is None and torch is None:
    pytest.skip("neither CuPy nor PyTorch with CUDA is installed", allow_module_level=True)

need_cupy = pytest.mark.skipif(cupy is None, reason="CuPy not installed")
need_torch = pytest.mark.skipif(torch is None, reason="PyTorch with CUDA not installed")
SEED = int(os.environ.get("HOMI_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
print("homi python GPU tests: HOMI_TEST_SEED=%d" % SEED)


@pytest.fixture(scope="module")
def eng():
    with homi.Engine(use_env=False) as e:
        yield e


@pytest.fixture(scope="module")
def datafile(tmp_path_factory):
    """40 MiB + 77 bytes of random data with two holes."""
    p = str(tmp_path_factory.mktemp("gpu") / "data.bin")
    size = (40 << 20) + 77
    rng = np.random.default_rng(SEED)
    with open(p, "wb") as f:
        f.truncate(size)
        for off, n in ((0, 9 << 20), (12 << 20, 20 << 20), (35 << 20, size - (35 << 20))):
            f.seek(off)
            f.write(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    return p, size


def ref(path, n, off):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def host_bytes(x):
    if cupy is not None and isinstance(x, cupy.ndarray):
        return x.get().tobytes()
    return x.cpu().numpy().tobytes()


def ranges(size, k=60):
    r = random.Random(SEED)
    out = [(0, 1), (size - 5, 100), (size, 10), (8 << 20, 8 << 20)]  # EOF, a staging-slot boundary
    out += [(r.randrange(size + 1000), r.choice([1, 4095, 65537, r.randrange(1, 12 << 20)])) for _ in range(k)]
    return out


# ---------------------------------------------------------------- CuPy


@need_cupy
def test_cupy_ranges(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        for off, n in ranges(size):
            a = cupy.full(n, 0xAB, dtype=cupy.uint8)
            got = f.pread(a, off)
            want = ref(p, n, off)
            assert got == len(want)
            h = a.get()
            assert h[:got].tobytes() == want and (h[got:] == 0xAB).all()
        st = f.stats()
        assert st["errors"] == 0 and (st["staged_bytes"] > 0 or st["paths"]["cufile"]["bytes"] > 0)


@need_cupy
def test_cupy_kinds_and_bad_input(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        b = cupy.zeros((64, 1000), cupy.float32)
        assert f.pread(b, 3) == b.nbytes and b.get().tobytes() == ref(p, b.nbytes, 3)
        whole = cupy.zeros(1 << 20, cupy.uint8)
        part = whole[1000 : 1000 + 50000]
        assert f.pread(part, 7) == 50000 and whole.get()[1000:51000].tobytes() == ref(p, 50000, 7)
        assert not whole.get()[:1000].any() and not whole.get()[51000:].any()
        with pytest.raises(ValueError):
            f.pread(whole[::2])
        with pytest.raises(ValueError):
            f.pread(cupy.zeros((100, 100), cupy.uint8).T)
        with pytest.raises(ValueError):
            f.pread(whole, -1)
        c = cupy.zeros(4096, cupy.uint8)
        cap = c.toDlpack() if hasattr(c, "toDlpack") else c.__dlpack__()
        assert f.pread(cap, 100) == 4096 and c.get().tobytes() == ref(p, 4096, 100)
        with pytest.raises(ValueError, match="already consumed"):
            f.pread(cap, 0)
        # pinned host memory is host memory
        import cupyx

        h = cupyx.empty_pinned(100000, np.uint8)
        assert f.pread(h, 11) == 100000 and h.tobytes() == ref(p, 100000, 11)


@need_cupy
def test_cupy_read_and_async(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        x = f.read(device="cupy")
        assert isinstance(x, cupy.ndarray) and x.size == size and x.get().tobytes() == ref(p, size, 0)
        y = f.read(4096, 12 << 20, device="cupy:0", dtype=np.float32)
        assert y.dtype == cupy.float32 and y.size == 1024 and y.get().tobytes() == ref(p, 4096, 12 << 20)
        r = random.Random(SEED)
        reqs = []
        for _ in range(200):
            off, n = r.randrange(size), r.randrange(1, 1 << 20)
            a = cupy.zeros(n, cupy.uint8)
            reqs.append((f.pread_async(a, off), a, off, n))
        r.shuffle(reqs)
        for fut, a, off, n in reqs[:100]:
            got = fut.result(timeout=60)
            assert a.get()[:got].tobytes() == ref(p, n, off)
        done, not_done = homi.wait([q[0] for q in reqs], timeout=60)
        assert not not_done
        for fut, a, off, n in reqs[100:]:
            assert a.get()[: fut.result()].tobytes() == ref(p, n, off)


@need_cupy
def test_cupy_stream_ordered(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        s = cupy.cuda.Stream(non_blocking=True)
        for off, n in [(0, 1 << 20), (5 << 20, 9 << 20), (size - 1000, 4096)]:
            a = cupy.zeros(n, cupy.uint8)
            fut = f.read_to_stream(a, off, s)
            with s:
                b = a.copy()  # queued after the read: must see its bytes
            s.synchronize()
            got = fut.result(timeout=60)
            want = ref(p, n, off)
            assert got == len(want) and b.get()[:got].tobytes() == want
        a = cupy.zeros(1 << 20, cupy.uint8)
        cupy.cuda.Device().synchronize()  # libhomi orders later work only: no fill in flight
        fut = f.read_to_stream(a, 3, None)  # the legacy default stream
        cupy.cuda.Device().synchronize()
        assert fut.result(timeout=60) == 1 << 20 and a.get().tobytes() == ref(p, 1 << 20, 3)
    assert eng.inflight() == 0


@need_cupy
def test_cupy_no_leaks(eng, datafile):
    p, size = datafile
    a = cupy.zeros(1 << 20, cupy.uint8)
    with eng.open(p) as f:
        for _ in range(50):
            f.pread(a, 1)
            f.pread_async(a, 2).result()
        rc = sys.getrefcount(a)
        for _ in range(300):
            f.pread(a, 1)
            f.pread_async(a, 2).result()
            try:
                f.pread(a[::2])
            except ValueError:
                pass
        assert sys.getrefcount(a) == rc


@need_cupy
def test_cupy_gil_released(eng, tmp_path):
    p = str(tmp_path / "big.bin")
    with open(p, "wb") as fh:
        for _ in range(256):
            fh.write(os.urandom(1 << 20))
    big = cupy.zeros(256 << 20, cupy.uint8)
    ticks, windows, stop = [], [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    with eng.open(p) as f:
        f.pread(big)
        t = threading.Thread(target=ticker)
        t.start()
        try:
            for _ in range(5):
                t0 = time.perf_counter()
                f.pread(big)
                t1 = time.perf_counter()
                if t1 - t0 > 0.004:
                    windows.append((t0 + 0.001, t1 - 0.001))
        finally:
            stop.set()
            t.join()
        assert big[:4096].get().tobytes() == ref(p, 4096, 0)
    assert windows, "every 256 MiB read took less than 4 ms"
    assert sum(1 for x in ticks for (lo, hi) in windows if lo < x < hi) > 0


# ---------------------------------------------------------------- PyTorch


@need_torch
def test_torch_ranges(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        for off, n in ranges(size, 40):
            t = torch.full((n,), 0xAB, dtype=torch.uint8, device="cuda")
            got = f.pread(t, off)
            want = ref(p, n, off)
            h = t.cpu().numpy()
            assert got == len(want) and h[:got].tobytes() == want and (h[got:] == 0xAB).all()


@need_torch
def test_torch_kinds_and_bad_input(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        t = torch.zeros((128, 512), dtype=torch.float16, device="cuda")
        assert f.pread(t, 5) == 128 * 512 * 2 and host_bytes(t) == ref(p, 128 * 512 * 2, 5)
        rows = t[10:20]  # contiguous rows
        assert f.pread(rows, 99) == 10 * 1024 and host_bytes(rows) == ref(p, 10 * 1024, 99)
        with pytest.raises(ValueError):
            f.pread(t[:, ::2])
        with pytest.raises(ValueError):
            f.pread(t.t())
        u = torch.zeros(8192, dtype=torch.uint8, device="cuda")
        cap = torch.utils.dlpack.to_dlpack(u)
        assert f.pread(cap, 77) == 8192 and host_bytes(u) == ref(p, 8192, 77)
        with pytest.raises(ValueError, match="already consumed"):
            f.pread(cap, 0)
        c = torch.zeros(1000, dtype=torch.uint8)  # CPU tensor: through DLPack
        assert f.pread(c, 1) == 1000 and c.numpy().tobytes() == ref(p, 1000, 1)
        x = f.read(device="cuda")
        assert x.is_cuda and x.dtype == torch.uint8 and x.numel() == size and host_bytes(x) == ref(p, size, 0)
        y = f.read(4096, 0, device=torch.device("cuda", 0), dtype=np.int32)
        assert y.dtype == torch.int32 and y.numel() == 1024 and host_bytes(y) == ref(p, 4096, 0)


@need_torch
def test_torch_async_and_stream(eng, datafile):
    p, size = datafile
    with eng.open(p) as f:
        bufs = [torch.zeros(1 << 20, dtype=torch.uint8, device="cuda") for _ in range(32)]
        futs = [f.pread_async(b, i * 1000003) for i, b in enumerate(bufs)]
        for i in reversed(range(32)):
            n = futs[i].result(timeout=60)
            assert host_bytes(bufs[i])[:n] == ref(p, 1 << 20, i * 1000003)
        s = torch.cuda.Stream()
        t = torch.zeros(3 << 20, dtype=torch.uint8, device="cuda")
        fut = f.read_to_stream(t, 4 << 20, s)
        with torch.cuda.stream(s):
            u = t.clone()
        s.synchronize()
        assert fut.result(timeout=60) == 3 << 20 and host_bytes(u) == ref(p, 3 << 20, 4 << 20)


# ---------------------------------------------------------------- dataset helper


def _records(paths, rs):
    out = []
    for q in paths:
        data = open(q, "rb").read()
        out += [data[i * rs : (i + 1) * rs] for i in range(len(data) // rs)]
    return out


@need_torch
def test_shard_dataset_torch_loop(tmp_path):
    from homi.torch import ShardDataset, no_collate

    rs, paths = 4096 + 64, []
    for k, nrec in enumerate((300, 77, 1000)):
        q = str(tmp_path / ("s%d.bin" % k))
        with open(q, "wb") as fh:
            fh.write(np.random.default_rng(k).integers(0, 256, nrec * rs, dtype=np.uint8).tobytes())
        paths.append(q)
    recs = _records(paths, rs)
    want = sum(int(np.frombuffer(r, np.uint8).astype(np.int64).sum()) for r in recs)
    with ShardDataset(paths, rs, device="cuda") as ds:
        assert len(ds) == 1377
        total, seen = torch.zeros((), dtype=torch.int64, device="cuda"), 0
        for batch in ds.batches(64, shuffle=True, seed=1, depth=4):  # the "training loop"
            assert batch.is_cuda and batch.shape[1] == rs
            total += batch.to(torch.int64).sum()
            seen += batch.shape[0]
        assert seen == 1377 and int(total) == want
        order = list(range(0, 1377, 7))
        got = [host_bytes(r) for b in ds.batches(50, indices=order) for r in b]
        assert got == [recs[i] for i in order]
        assert host_bytes(ds[500]) == recs[500]
        loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=False, collate_fn=no_collate)
        for k, b in enumerate(loader):
            b = b if torch.is_tensor(b) else torch.stack(b)
            assert host_bytes(b[0]) == recs[k * 32]
            if k == 3:
                break
        st = ds.stats()
        assert sum(s["read_bytes"] for s in st) > 0


@need_cupy
def test_shard_dataset_cupy(tmp_path):
    from homi.torch import ShardDataset

    q = str(tmp_path / "c.bin")
    with open(q, "wb") as fh:
        fh.write(os.urandom(100 * 1000))
    recs = _records([q], 1000)
    with ShardDataset(q, 1000, device="cupy") as ds:
        got = [host_bytes(r) for b in ds.batches(16) for r in b]
        assert got == recs


def test_numba_device_array(eng, datafile):
    numba_cuda = pytest.importorskip("numba.cuda")
    if not numba_cuda.is_available():
        pytest.skip("Numba cannot use CUDA here")
    p, size = datafile
    a = numba_cuda.device_array(100000, dtype=np.uint8)
    with eng.open(p) as f:
        assert f.pread(a, 13) == 100000
    assert a.copy_to_host().tobytes() == ref(p, 100000, 13)
