"""CPU tests of the homi Python module: real files, real reads through libhomi,
checked byte for byte against os.pread; bad input; reference counts; futures;
the GIL released during reads; statistics, info, the dataset helper (NumPy)."""
import ctypes
import gc
import os
import random
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import homi

SEED = int(os.environ.get("HOMI_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
print("homi python tests: HOMI_TEST_SEED=%d" % SEED)


@pytest.fixture
def rng():
    return random.Random(SEED)


@pytest.fixture(scope="module")
def eng():
    with homi.Engine(threads=2, use_env=False) as e:
        yield e


def make_file(path, size, seed=1):
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(data)
    return data


def ref(path, n, off):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- reads


def test_random_ranges_numpy(eng, tmp_path, rng):
    p = str(tmp_path / "r.bin")
    size = 5 * 1024 * 1024 + 123
    make_file(p, size)
    with eng.open(p) as f:
        assert f.size == size
        for _ in range(200):
            off = rng.randrange(0, size + 10000)
            n = rng.choice([1, 7, 512, 4096, 65536 + 3, rng.randrange(1, 3 * 1024 * 1024)])
            a = np.full(n, 0xAB, np.uint8)
            got = f.pread(a, off)
            want = ref(p, n, off)
            assert got == len(want)
            assert a[:got].tobytes() == want
            assert (a[got:] == 0xAB).all()  # nothing written past what was read


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "float32", "2d", "slice"])
def test_destination_kinds(eng, tmp_path, kind):
    p = str(tmp_path / "k.bin")
    data = make_file(p, 1 << 20)
    if kind == "bytearray":
        buf = bytearray(100000)
        view = buf
    elif kind == "memoryview":
        back = bytearray(100000)
        buf = memoryview(back)
        view = back
    elif kind == "float32":
        buf = np.zeros(25000, np.float32)
        view = buf
    elif kind == "2d":
        buf = np.zeros((100, 1000), np.uint8)
        view = buf
    else:
        whole = np.zeros(200000, np.uint8)
        buf = whole[50000:150000]  # a contiguous slice
        view = buf
    with eng.open(p) as f:
        assert f.pread(buf, 4321) == 100000
    assert bytes(memoryview(view).cast("B")) == data[4321 : 4321 + 100000]


def test_size_argument(eng, tmp_path):
    p = str(tmp_path / "s.bin")
    data = make_file(p, 10000)
    a = np.zeros(1000, np.uint8)
    with eng.open(p) as f:
        assert f.pread(a, 10, size=100) == 100
        assert a[:100].tobytes() == data[10:110] and not a[100:].any()
        assert f.pread(a, 0, size=0) == 0
        with pytest.raises(ValueError):
            f.pread(a, 0, size=1001)
        with pytest.raises(ValueError):
            f.pread(a, 0, size=-2)


def test_eof(eng, tmp_path):
    p = str(tmp_path / "e.bin")
    data = make_file(p, 10000)
    a = np.zeros(4096, np.uint8)
    with eng.open(p) as f:
        assert f.pread(a, 10000 - 100) == 100
        assert a[:100].tobytes() == data[-100:]
        assert f.pread(a, 10000) == 0
        assert f.pread(a, 1 << 40) == 0
        assert f.read(offset=20000).size == 0
        empty = np.zeros(0, np.uint8)
        assert f.pread(empty, 0) == 0


def test_holes(eng, tmp_path, rng):
    p = str(tmp_path / "h.bin")
    size = 8 * 1024 * 1024
    with open(p, "wb") as fh:
        fh.truncate(size)
        for off in (0, 1 << 20, 5 * (1 << 20) + 17, size - 3000):
            fh.seek(off)
            fh.write(os.urandom(3000))
    with eng.open(p) as f:
        whole = f.read()
        assert whole.tobytes() == ref(p, size, 0)
        for _ in range(50):
            off, n = rng.randrange(size), rng.randrange(1, 2 << 20)
            a = np.full(n, 1, np.uint8)
            got = f.pread(a, off)
            assert a[:got].tobytes() == ref(p, n, off)
        st = f.stats()
        if not st["fallbacks"]["extent-map-failed"]:  # FIEMAP works here (not tmpfs/overlay)
            assert st["paths"]["hole"]["bytes"] > 0  # holes served as zeros, and counted


def test_file_changed_under_open_file(eng, tmp_path):
    p = str(tmp_path / "c.bin")
    make_file(p, 1 << 20)
    with eng.open(p) as f:
        a = np.zeros(1 << 21, np.uint8)
        assert f.pread(a, 0) == 1 << 20
        fd = os.open(p, os.O_WRONLY)
        try:
            os.pwrite(fd, b"\x5a" * 100000, 300000)  # overwrite
            n = f.pread(a, 0)
            assert a[:n].tobytes() == ref(p, 1 << 21, 0)
            os.pwrite(fd, os.urandom(500000), 1 << 20)  # extend
            n = f.pread(a, 0)
            assert n == (1 << 20) + 500000 and a[:n].tobytes() == ref(p, 1 << 21, 0)
            os.ftruncate(fd, 200000)  # shrink
            assert f.size == 200000
            assert f.pread(a, 0) == 200000 and a[:200000].tobytes() == ref(p, 200000, 0)
            os.ftruncate(fd, 3 << 20)  # grow with a hole after the data
            n = f.pread(a, 0)
            assert n == 1 << 21 and a.tobytes() == ref(p, 1 << 21, 0)
        finally:
            os.close(fd)
        fb = f.stats()["fallbacks"]
        assert fb["extent-map-stale"] >= 1 or fb["extent-map-failed"] >= 1


def test_read_allocates(eng, tmp_path):
    p = str(tmp_path / "a.bin")
    data = make_file(p, 100003)
    with eng.open(p) as f:
        x = f.read()
        assert isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.tobytes() == data
        y = f.read(4000, 8, dtype=np.float32)
        assert y.dtype == np.float32 and y.shape == (1000,) and y.tobytes() == data[8:4008]
        z = f.read(8, 100000, dtype=np.int32)  # short: one whole element of the 3 bytes left? none
        assert z.size == 0
        with pytest.raises(ValueError):
            f.read(10, 0, dtype=np.float64)
        with pytest.raises(TypeError):
            f.read(8, 0, dtype=object)
        with pytest.raises(ValueError):
            f.read(10, 0, device="gpu")


# ---------------------------------------------------------------- bad input


class FakeCAI:
    """An object exposing __cuda_array_interface__ over host memory (never read:
    the checks refuse it first, or libhomi refuses the memory kind)."""

    def __init__(self, arr, **over):
        self._arr = arr
        d = {
            "shape": arr.shape,
            "typestr": arr.dtype.str,
            "data": (arr.ctypes.data, False),
            "strides": None,
            "version": 3,
        }
        d.update(over)
        self.__cuda_array_interface__ = d


def test_bad_inputs(eng, tmp_path):
    p = str(tmp_path / "b.bin")
    make_file(p, 1 << 16)
    f = eng.open(p)
    a = np.zeros(4096, np.uint8)
    with pytest.raises(TypeError):
        f.pread(b"x" * 100)  # read-only buffer
    ro = np.zeros(100, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(TypeError):
        f.pread(ro)
    with pytest.raises(TypeError):
        f.pread(memoryview(bytearray(10)).toreadonly())
    with pytest.raises(ValueError):
        f.pread(a[::2])  # non-contiguous
    with pytest.raises(ValueError):
        f.pread(np.zeros((64, 64), np.uint8).T)  # Fortran order
    with pytest.raises(TypeError):
        f.pread(np.empty(10, dtype=object))  # dtype object
    with pytest.raises(ValueError):
        f.pread(a, -1)  # negative offset
    with pytest.raises(ValueError):
        f.pread_async(a, -5)
    with pytest.raises(TypeError):
        f.pread(a, 1.5)
    with pytest.raises(TypeError):
        f.pread(12345)  # not a buffer at all
    with pytest.raises(TypeError):
        f.pread("text")
    # __cuda_array_interface__ checks
    b = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError):
        f.pread(FakeCAI(b, strides=(4, 32)))  # column-major strides
    with pytest.raises(TypeError):
        f.pread(FakeCAI(b, data=(b.ctypes.data, True)))  # read-only
    with pytest.raises(TypeError):
        f.pread(FakeCAI(b, typestr="|O8"))
    with pytest.raises(TypeError):
        f.pread(FakeCAI(b, mask=object()))
    if not homi.cuda_available():  # host memory declared as device memory is refused
        with pytest.raises(homi.HomiError) as ei:
            f.pread(FakeCAI(b))
        assert ei.value.code in (homi.ENOTSUP, homi.EINVAL)
    # stream arguments
    with pytest.raises(TypeError):
        f.read_to_stream(a, 0, "stream")
    # DLPack: a capsule can be consumed once
    c = np.zeros(1000, np.uint8)
    cap = c.__dlpack__()
    assert f.pread(cap, 0) == 1000 and c.tobytes() == ref(p, 1000, 0)
    with pytest.raises(ValueError, match="already consumed"):
        f.pread(cap, 0)
    d = np.zeros(100, np.uint8)
    assert f.pread(d, 5) == 100 and d.tobytes() == ref(p, 100, 5)  # object with __dlpack__ / buffer
    # closed file
    f.close()
    assert f.closed
    with pytest.raises(ValueError):
        f.pread(a)
    with pytest.raises(ValueError):
        f.pread_async(a)
    with pytest.raises(ValueError):
        f.stats()
    with pytest.raises(ValueError):
        f.size
    f.close()  # twice is fine


def test_dlpack_only_object(eng, tmp_path):
    p = str(tmp_path / "d.bin")
    data = make_file(p, 5000)

    class OnlyDLPack:
        def __init__(self, arr):
            self.arr = arr

        def __dlpack__(self, stream=None):
            return self.arr.__dlpack__()

    arr = np.zeros(5000, np.uint8)
    with eng.open(p) as f:
        assert f.pread(OnlyDLPack(arr)) == 5000
    assert arr.tobytes() == data


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _DLVersioned(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32), ("manager_ctx", ctypes.c_void_p),
                ("deleter", _DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


_VERSIONED_NAME = b"dltensor_versioned"


def _versioned_capsule(arr, keep, deleted, major=1, flags=0):
    """A DLPack 1.x capsule over a NumPy array, as CuPy 14 / NumPy 2 export."""
    shape = (ctypes.c_int64 * 1)(arr.size)
    m = _DLVersioned(major, 0, None, _DELETER(lambda _p: deleted.append(1)), flags,
                     _DLTensor(arr.ctypes.data, 1, 0, 1, 1, 8, 1, shape, None, 0))
    keep += [shape, m]
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(ctypes.addressof(m), _VERSIONED_NAME, None)


def test_dlpack_versioned_capsule(eng, tmp_path):
    p = str(tmp_path / "v.bin")
    make_file(p, 10000)
    keep, deleted = [], []
    arr = np.zeros(3000, np.uint8)
    with eng.open(p) as f:
        cap = _versioned_capsule(arr, keep, deleted)
        assert f.pread(cap, 77) == 3000 and arr.tobytes() == ref(p, 3000, 77)
        assert deleted == [1]  # the producer's deleter ran once, after the read
        with pytest.raises(ValueError, match="already consumed"):
            f.pread(cap, 0)
        with pytest.raises(TypeError, match="read-only"):
            f.pread(_versioned_capsule(arr, keep, deleted, flags=1), 0)
        with pytest.raises(TypeError, match="version 2"):
            f.pread(_versioned_capsule(arr, keep, deleted, major=2), 0)
        assert deleted == [1, 1]  # refused read-only tensor released; unknown version left alone

        class Versioned:  # __dlpack__(max_version=(1, 0)) answered with a 1.x capsule
            def __dlpack__(self, stream=None, max_version=None):
                assert max_version == (1, 0)
                return _versioned_capsule(arr, keep, deleted)

        arr[:] = 0
        assert f.pread(Versioned(), 5) == 3000 and arr.tobytes() == ref(p, 3000, 5)


def test_engine_errors(tmp_path, monkeypatch):
    with pytest.raises(homi.HomiError) as ei:
        homi.Engine(no_such_hint=1)
    assert ei.value.code == homi.EHINT
    with pytest.raises(homi.HomiError) as ei:
        homi.Engine(threads="many")
    assert ei.value.code == homi.EHINTVAL and isinstance(ei.value, OSError)
    with pytest.raises(TypeError):
        homi.Engine(4)
    monkeypatch.setenv("HOMI_THREADS", "nonsense")
    with pytest.raises(homi.HomiError):
        homi.Engine()
    e = homi.Engine(use_env=False, threads=3, direct=True, chunk_size="2M")
    assert e.hint("threads") == "3" and e.hint("homi_direct") == "on"
    with pytest.raises(FileNotFoundError) as ei:
        e.open(str(tmp_path / "missing"))
    assert ei.value.errno == 2 and ei.value.code == homi.ENOENT
    with pytest.raises(IsADirectoryError):
        e.open(str(tmp_path))
    p = str(tmp_path / "x.bin")
    make_file(p, 100)
    f = e.open(p)
    e.close()  # closes its files too
    assert e.closed and f.closed
    with pytest.raises(ValueError):
        e.open(p)
    with pytest.raises(ValueError):
        f.pread(bytearray(10))
    with pytest.raises(ValueError):
        e.stats()


# ---------------------------------------------------------------- async


def test_futures_any_order(eng, tmp_path, rng):
    p = str(tmp_path / "f.bin")
    size = 4 << 20
    make_file(p, size)
    with eng.open(p) as f:
        reqs = []
        for _ in range(300):
            off, n = rng.randrange(size + 100), rng.randrange(1, 200000)
            a = np.zeros(n, np.uint8)
            reqs.append((f.pread_async(a, off), a, off, n))
        order = list(range(len(reqs)))
        rng.shuffle(order)
        for i in order:
            fut, a, off, n = reqs[i]
            got = fut.result(timeout=30)
            assert fut.done() and not fut.cancel() and not fut.cancelled()
            want = ref(p, n, off)
            assert got == len(want) and a[:got].tobytes() == want
        # many in flight, collected with homi.wait
        bufs = [np.zeros(65536, np.uint8) for _ in range(1000)]
        futs = [f.pread_async(b, (i * 4099) % size) for i, b in enumerate(bufs)]
        done, not_done = homi.wait(futs, timeout=60)
        assert not not_done and len(done) == 1000
        for i, (fu, b) in enumerate(zip(futs, bufs)):
            assert b[: fu.result()].tobytes() == ref(p, 65536, (i * 4099) % size)
        fut = f.pread_async(np.zeros(10, np.uint8), 0)
        done, _ = homi.wait([fut], return_when=homi.FIRST_COMPLETED, timeout=30)
        assert done == [fut] and fut.result() == 10 and fut.paths == ["kernel"]
        assert f.pread_async(np.zeros(0, np.uint8), 0).result() == 0
        assert eng.inflight() == 0


def test_futures_across_threads(eng, tmp_path):
    p = str(tmp_path / "t.bin")
    size = 2 << 20
    make_file(p, size)
    errors = []
    with eng.open(p) as f:

        def worker(k):
            try:
                r = random.Random(SEED + k)
                for _ in range(50):
                    futs = []
                    for _ in range(8):
                        off, n = r.randrange(size), r.randrange(1, 50000)
                        a = np.zeros(n, np.uint8)
                        futs.append((f.pread_async(a, off), a, off, n))
                    r.shuffle(futs)
                    for fut, a, off, n in futs:
                        got = fut.result(timeout=30)
                        if a[:got].tobytes() != ref(p, n, off):
                            errors.append((off, n))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors


def test_engine_close_completes_inflight(tmp_path):
    p = str(tmp_path / "i.bin")
    data = make_file(p, 1 << 20)
    e = homi.Engine(use_env=False)
    f = e.open(p)
    bufs = [np.zeros(1 << 20, np.uint8) for _ in range(20)]
    futs = [f.pread_async(b) for b in bufs]
    e.close()
    assert all(fu.done() for fu in futs)
    assert all(b.tobytes() == data for b in bufs)


# ---------------------------------------------------------------- resources


def test_no_reference_leaks(eng, tmp_path):
    p = str(tmp_path / "l.bin")
    make_file(p, 1 << 20)
    a = np.zeros(4096, np.uint8)
    ba = bytearray(4096)
    with eng.open(p) as f:

        def once():
            f.pread(a, 100)
            f.pread(ba, 200)
            f.pread_async(a, 300).result()
            f.pread(a.__dlpack__(), 0)
            for bad in (lambda: f.pread(a, -1), lambda: f.pread(b"ro"), lambda: f.pread(a[::2])):
                try:
                    bad()
                except (ValueError, TypeError):
                    pass
            f.stats()
            f.read(1000, 5)

        for _ in range(200):
            once()
        gc.collect()
        rc_a, rc_ba, rc_f = sys.getrefcount(a), sys.getrefcount(ba), sys.getrefcount(f)
        tracemalloc.start()
        for _ in range(2000):
            once()
        gc.collect()
        snap1 = tracemalloc.take_snapshot()
        for _ in range(2000):
            once()
        gc.collect()
        snap2 = tracemalloc.take_snapshot()
        tracemalloc.stop()
        growth = sum(s.size_diff for s in snap2.compare_to(snap1, "filename"))
        assert sys.getrefcount(a) == rc_a
        assert sys.getrefcount(ba) == rc_ba
        assert sys.getrefcount(f) == rc_f
        assert growth < 64 * 1024, "memory grew by %d bytes over 2000 iterations" % growth
        # a read-only error must not keep the buffer exported (bytearray resizable again)
        ba2 = bytearray(10)
        with pytest.raises(TypeError):
            f.pread(memoryview(ba2).toreadonly())
        ba2.extend(b"more")


# ---------------------------------------------------------------- GIL


def _progress_during(call, min_s=0.005):
    """Run call() repeatedly; return how many ticks a second thread made inside
    calls that lasted at least min_s."""
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=ticker)
    t.start()
    windows = []
    try:
        for _ in range(10):
            t0 = time.perf_counter()
            call()
            t1 = time.perf_counter()
            if t1 - t0 >= min_s:
                windows.append((t0 + 0.001, t1 - 0.001))
    finally:
        stop.set()
        t.join()
    assert windows, "no call lasted %.0f ms: make the read larger" % (min_s * 1000)
    return sum(1 for x in ticks for (a, b) in windows if a < x < b)


def test_gil_released(tmp_path):
    p = str(tmp_path / "g.bin")
    size = 96 << 20
    with open(p, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(os.urandom(1 << 20))
    big = np.zeros(size, np.uint8)
    with homi.Engine(use_env=False, threads=1, chunk_size="64K") as e, e.open(p) as f:
        assert _progress_during(lambda: f.pread(big, 0)) > 0
        assert big[:4096].tobytes() == ref(p, 4096, 0)
        assert _progress_during(lambda: f.pread_async(big, 0).result()) > 0


# ---------------------------------------------------------------- stats, info


def test_stats(tmp_path):
    p = str(tmp_path / "st.bin")
    make_file(p, 3 << 20)
    with homi.Engine(use_env=False) as e, e.open(p) as f:
        f.read()
        st = f.stats()
        assert set(st["paths"]) == set(homi.PATHS)
        assert set(st["fallbacks"]) == set(homi.FALLBACKS) and "path-unavailable" in st["fallbacks"]
        assert st["read_bytes"] == 3 << 20 and st["reads"] == 1 and st["errors"] == 0
        assert sum(v["bytes"] for v in st["paths"].values()) == 3 << 20
        es = e.stats()
        assert es["read_bytes"] >= 3 << 20


def test_info(tmp_path):
    p = str(tmp_path / "info.bin")
    make_file(p, 1 << 20)
    text = homi.info(p)
    assert text.startswith("HOMI ") and "file " + p in text and "extent map" in text
    assert "  kernel    available" in text
    assert "homi_chunk_size" in homi.info(hints=True)
    with pytest.raises(FileNotFoundError):
        homi.info(str(tmp_path / "nope"))
    assert homi.__version__.count(".") == 2


# ---------------------------------------------------------------- dataset helper


def test_shard_dataset_numpy(tmp_path):
    from homi.torch import ShardDataset

    rs = 1000
    paths, blobs = [], []
    for k, nrec in enumerate((37, 1, 50)):
        p = str(tmp_path / ("shard%d.bin" % k))
        blobs.append(make_file(p, 16 + nrec * rs + 7, seed=k + 10))  # header 16, partial tail 7
        paths.append(p)
    recs = [b[16 + i * rs : 16 + (i + 1) * rs] for b in blobs for i in range((len(b) - 16) // rs)]
    with ShardDataset(paths, rs, header=16, device=None, threads=2) as ds:
        assert len(ds) == 88
        assert ds[0].tobytes() == recs[0] and ds[37].tobytes() == recs[37] and ds[-1].tobytes() == recs[-1]
        with pytest.raises(IndexError):
            ds[88]
        got = ds.__getitems__([5, 6, 7, 40, 3])
        assert [r.tobytes() for r in got] == [recs[i] for i in (5, 6, 7, 40, 3)]
        seen = []
        for batch in ds.batches(10, shuffle=True, seed=3, depth=3):
            assert batch.shape[1] == rs and batch.shape[0] <= 10
            seen.extend(r.tobytes() for r in batch)
        assert sorted(seen) == sorted(recs)
        order = list(range(88))[::-1]
        flat = [r.tobytes() for b in ds.batches(16, indices=order, drop_last=True) for r in b]
        assert flat == [recs[i] for i in order[:80]]


def test_engine_closed_from_threads(tmp_path):
    p = str(tmp_path / "cc.bin")
    data = make_file(p, 1 << 20)
    for _ in range(5):
        e = homi.Engine(use_env=False)
        f = e.open(p)
        bufs = [np.zeros(1 << 18, np.uint8) for _ in range(16)]
        futs = [f.pread_async(b, i * 1000) for i, b in enumerate(bufs)]
        ts = [threading.Thread(target=e.close) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert e.closed and f.closed and all(fu.done() for fu in futs)
        assert all(b.tobytes() == data[i * 1000 : i * 1000 + (1 << 18)] for i, b in enumerate(bufs))


def test_dropped_futures(eng, tmp_path):
    p = str(tmp_path / "dr.bin")
    data = make_file(p, 1 << 20)
    a = np.zeros(1 << 20, np.uint8)
    base = sys.getrefcount(a)
    with eng.open(p) as f:
        for _ in range(20):
            f.pread_async(a, 0)  # dropped at once: the read keeps a alive and exported
        end = time.monotonic() + 30
        while eng.inflight() and time.monotonic() < end:
            eng.poll(0.1)
        assert eng.inflight() == 0
    assert sys.getrefcount(a) == base and a.tobytes() == data
