#!/usr/bin/env python3
"""async_reads.py FILE - many reads in flight: pread_async into preallocated
buffers, collected in any order with homi.wait (docs/python.md)."""
import sys

import numpy as np

import homi

CHUNK = 4 << 20

with homi.Engine() as eng, eng.open(sys.argv[1]) as f:
    n = (f.size + CHUNK - 1) // CHUNK
    bufs = [np.empty(CHUNK, np.uint8) for _ in range(n)]  # or cupy.empty / torch.empty(device="cuda")
    futs = [f.pread_async(b, i * CHUNK) for i, b in enumerate(bufs)]
    done, not_done = homi.wait(futs)  # the GIL is released while waiting
    total = sum(fut.result() for fut in done)
    print("%d reads, %d bytes; engine: %s" % (len(done), total, eng.stats()["paths"]["kernel"]))
