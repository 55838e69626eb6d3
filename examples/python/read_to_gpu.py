#!/usr/bin/env python3
"""read_to_gpu.py FILE [cupy|torch|numpy] - read a whole file into a CuPy array, a
torch CUDA tensor or a NumPy array through HOMI, then print which path served
which bytes (docs/python.md)."""
import sys
import time

import homi


def main():
    path = sys.argv[1]
    target = sys.argv[2] if len(sys.argv) > 2 else ("cupy" if homi.cuda_available() else "numpy")
    device = None if target == "numpy" else ("cuda" if target == "torch" else "cupy")
    with homi.Engine() as eng, eng.open(path) as f:  # hints: homi.Engine(threads=8, direct=True)
        t0 = time.perf_counter()
        arr = f.read(device=device)
        t = time.perf_counter() - t0
        print("%s: %d bytes into %s in %.3f s (%.2f GB/s)" % (path, f.size, type(arr).__name__, t, f.size / t / 1e9))
        st = f.stats()
        for name, p in st["paths"].items():
            if p["bytes"]:
                print("  path %-9s %d bytes in %d requests" % (name, p["bytes"], p["requests"]))
        for reason, n in st["fallbacks"].items():
            if n:
                print("  fallback %s: %d" % (reason, n))
        if st["staged_bytes"]:
            print("  staged through pinned memory: %d bytes" % st["staged_bytes"])


if __name__ == "__main__":
    main()
