#!/usr/bin/env python3
"""python_gpu_bench.py - the homi Python module reading a large file into GPU
memory (a CuPy array, a torch CUDA tensor), page-cache resident and cold,
against numpy.fromfile + cupy.asarray, torch.from_file + .cuda(), KvikIO (if
installed) and the C API's own figure (python_c_ref: homi_pread into device
memory), all in one run.  Prints a table and writes CSV (docs/python.md).

  python_gpu_bench.py --size-gib 8 --file /path/big.bin --c-ref build/bench/python_c_ref --out DIR
  python_gpu_bench.py --targets numpy --size-gib 0.25 ...   # host rows only (no GPU)

Cold runs drop the file's pages with posix_fadvise(DONTNEED) before each read
(no root needed).  Targets: >= 0.95x the C API, >= 5x NumPy + copy (cached)."""
import argparse
import csv
import os
import subprocess
import sys
import time

import numpy as np

import homi

GB = 1e9


def make_file(path, size):
    """A file of size bytes of pseudo-random data (a 64 MiB random pool, each
    MiB stamped with its index), written fast and synced."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return False
    pool = np.random.default_rng(7).integers(0, 256, 64 << 20, dtype=np.uint8)
    blk = 64 << 20
    with open(path, "wb") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError:
            pass
        done = 0
        while done < size:
            n = min(blk, size - done)
            chunk = pool[:n].copy()
            whole = n >> 20  # stamp each full MiB with its index (8 bytes)
            if whole:
                idx = np.arange(done >> 20, (done >> 20) + whole, dtype="<u8")
                chunk[: whole << 20].reshape(whole, 1 << 20)[:, :8] = idx.view(np.uint8).reshape(whole, 8)
            f.write(memoryview(chunk))
            done += n
        f.truncate(size)
        os.fsync(f.fileno())
    return True


def drop(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def warm(path):
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(64 << 20)
        while f.readinto(buf):
            pass


def timed(fn, sync):
    t0 = time.perf_counter()
    n = fn()
    sync()
    return n, time.perf_counter() - t0


def verify(path, get, size, samples=16):
    """Compare random 1 MiB pieces of the destination with os.pread."""
    rng = np.random.default_rng(1)
    fd = os.open(path, os.O_RDONLY)
    try:
        for off in [0, max(0, size - (1 << 20))] + list(rng.integers(0, max(1, size - (1 << 20)), samples)):
            off = int(off)
            want = os.pread(fd, 1 << 20, off)
            if get(off, len(want)) != want:
                raise SystemExit("VERIFY FAILED at offset %d" % off)
    finally:
        os.close(fd)


def parts_read(f, dst, size, k):
    """k pread_async of contiguous parts of dst, all in flight, then waited for."""
    step = -(-size // k)
    futs = [f.pread_async(dst[o : min(size, o + step)], o) for o in range(0, size, step)]
    return sum(fut.result() for fut in futs)


def rows_for(target, path, size, eng):
    """[(name, fn, sync, verify_get)] for one target library."""
    rows = []
    f = eng.open(path)
    if target == "numpy":
        dst = np.empty(size, np.uint8)
        rows.append(("homi module -> numpy", lambda: f.pread(dst), lambda: None, lambda o, n: dst[o : o + n].tobytes()))
        rows.append(("homi module -> numpy, 4 async", lambda: parts_read(f, dst, size, 4), lambda: None, None))
        rows.append(("numpy.fromfile", lambda: np.fromfile(path, np.uint8).size, lambda: None, None))
        return rows, [dst], f
    if target == "cupy":
        import cupy

        dst = cupy.empty(size, cupy.uint8)
        sync = cupy.cuda.Device().synchronize
        rows.append(("homi module -> cupy", lambda: f.pread(dst), sync, lambda o, n: dst[o : o + n].get().tobytes()))
        rows.append(("homi module -> cupy, 4 async", lambda: parts_read(f, dst, size, 4), sync, None))

        def np_copy():
            x = cupy.asarray(np.fromfile(path, np.uint8))
            n = x.size
            del x
            return n

        rows.append(("numpy.fromfile + cupy.asarray", np_copy, sync, None))
        try:
            import kvikio

            def kv():
                with kvikio.CuFile(path, "r") as kf:
                    return kf.read(dst)

            rows.append(("kvikio CuFile.read -> cupy", kv, sync, None))
        except ImportError:
            rows.append(("kvikio CuFile.read -> cupy", None, None, None))
        return rows, [dst], f
    import torch

    dst = torch.empty(size, dtype=torch.uint8, device="cuda")
    sync = torch.cuda.synchronize
    rows.append(
        ("homi module -> torch", lambda: f.pread(dst), sync, lambda o, n: dst[o : o + n].cpu().numpy().tobytes())
    )
    rows.append(("homi module -> torch, 4 async", lambda: parts_read(f, dst, size, 4), sync, None))

    def th_copy():
        x = torch.from_file(path, shared=False, size=size, dtype=torch.uint8).cuda()
        n = x.numel()
        del x
        return n

    rows.append(("torch.from_file + .cuda()", th_copy, sync, None))
    return rows, [dst], f


def c_ref(args, kind, mode, reps):
    if not args.c_ref or not os.path.exists(args.c_ref):
        return None, "python_c_ref not given"
    out = subprocess.run(
        [args.c_ref, args.file, str(args.size), str(reps), kind, mode], capture_output=True, text=True
    )
    if out.returncode:
        return None, out.stderr.strip()
    best = max(float(l.split()[5]) for l in out.stdout.split("\n") if l.startswith("c_api"))
    return best, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", default="/var/tmp/homi-py-bench.dat")
    ap.add_argument("--size-gib", type=float, default=float(os.environ.get("HOMI_PY_BENCH_GIB", "8")))
    ap.add_argument("--targets", default="cupy,torch", help="comma list of cupy, torch, numpy")
    ap.add_argument("--modes", default="cached,cold")
    ap.add_argument("--repeat", type=int, default=3, help="reads per row when cached (best is reported)")
    ap.add_argument("--cold-repeat", type=int, default=1)
    ap.add_argument("--c-ref", default="", help="the python_c_ref program (C API figure)")
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="directory for the CSV")
    ap.add_argument("--keep", action="store_true", help="keep the data file")
    args = ap.parse_args()
    args.size = int(args.size_gib * (1 << 30))
    t0 = time.perf_counter()
    made = make_file(args.file, args.size)
    print("# file %s, %.2f GiB (%s in %.1f s); homi %s" % (
        args.file, args.size / (1 << 30), "written" if made else "reused", time.perf_counter() - t0, homi.__version__))
    results = []
    eng = homi.Engine()
    try:
        for target in [t for t in args.targets.split(",") if t]:
            try:
                rows, keep, f = rows_for(target, args.file, args.size, eng)
            except ImportError as e:
                print("# %s: not installed (%s)" % (target, e))
                continue
            kind = "host" if target == "numpy" else "device"
            for mode in args.modes.split(","):
                reps = args.repeat if mode == "cached" else args.cold_repeat
                if mode == "cached":
                    warm(args.file)
                cref, why = c_ref(args, kind, mode, reps)
                results.append((target, mode, "C API homi_pread (%s)" % kind, cref, why))
                for name, fn, sync, get in rows:
                    if fn is None:
                        results.append((target, mode, name, None, "not installed"))
                        continue
                    best = 0.0
                    try:
                        for r in range(reps):
                            if mode == "cold":
                                drop(args.file)
                            n, t = timed(fn, sync)
                            if n != args.size:
                                raise SystemExit("%s read %d of %d bytes" % (name, n, args.size))
                            best = max(best, n / t / GB)
                            if get and r == 0:
                                verify(args.file, get, args.size)
                    except Exception as e:  # a baseline that fails here is reported, not fatal
                        if name.startswith("homi"):
                            raise
                        results.append((target, mode, name, None, "failed: %s" % str(e)[:80]))
                        print("# %-8s %-6s %-34s failed: %s" % (target, mode, name, e), flush=True)
                        continue
                    results.append((target, mode, name, best, ""))
                    print("# %-8s %-6s %-34s %7.2f GB/s" % (target, mode, name, best), flush=True)
            f.close()
            del keep
    finally:
        eng.close()
        if not args.keep:
            os.unlink(args.file)
    report(results, args)


def report(results, args):
    byk = {(t, m, n): v for t, m, n, v, _ in results}
    print("\n%-6s %-6s %-36s %9s %9s %9s" % ("target", "mode", "reader", "GB/s", "vs C API", "vs base"))
    rows = []
    for t, m, n, v, why in results:
        kind = "host" if t == "numpy" else "device"
        c = byk.get((t, m, "C API homi_pread (%s)" % kind))
        base = {"cupy": "numpy.fromfile + cupy.asarray", "torch": "torch.from_file + .cuda()", "numpy": "numpy.fromfile"}[t]
        b = byk.get((t, m, base))
        rc = v / c if v and c else None
        rb = v / b if v and b else None
        fmt = lambda x, s="%9.2f": (s % x) if x else "%9s" % "n/a"
        print("%-6s %-6s %-36s %s %s %s%s" % (t, m, n, fmt(v), fmt(rc), fmt(rb), ("  (" + why + ")") if why else ""))
        rows.append([t, m, n, "%.3f" % v if v else "n/a", "%.3f" % rc if rc else "", "%.3f" % rb if rb else "", why])
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "python_gpu_bench.csv")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["target", "mode", "reader", "GBps", "vs_c_api", "vs_baseline", "note"])
        w.writerows(rows)
    print("\n# CSV: %s" % path)
    for t in ("cupy", "torch", "numpy"):
        mod = byk.get((t, "cached", "homi module -> %s" % t))
        c = byk.get((t, "cached", "C API homi_pread (%s)" % ("host" if t == "numpy" else "device")))
        base = byk.get((t, "cached", {"cupy": "numpy.fromfile + cupy.asarray", "torch": "torch.from_file + .cuda()", "numpy": "numpy.fromfile"}[t]))
        if mod:
            print("# target %s cached: module/C API %s (>= 0.95: %s), module/baseline %s (>= 5: %s)" % (
                t, "%.2f" % (mod / c) if c else "n/a", "yes" if c and mod / c >= 0.95 else "no" if c else "n/a",
                "%.2f" % (mod / base) if base else "n/a", "yes" if base and mod / base >= 5 else "no" if base else "n/a"))


if __name__ == "__main__":
    sys.exit(main())
