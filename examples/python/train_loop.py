#!/usr/bin/env python3
"""train_loop.py RECORD_SIZE FILE... - a training-style loop over fixed-size
records read by homi.torch.ShardDataset straight into CUDA tensor batches,
several batches in flight (docs/python.md).  Needs PyTorch with CUDA."""
import sys
import time

import torch

from homi.torch import ShardDataset

rs = int(sys.argv[1])
with ShardDataset(sys.argv[2:], rs, device="cuda", threads=8) as ds:
    for epoch in range(2):
        t0, acc, nbytes = time.perf_counter(), torch.zeros((), device="cuda"), 0
        for batch in ds.batches(256, shuffle=True, seed=epoch, depth=4):  # uint8 (256, rs)
            acc += batch.float().mean()  # the "model"
            nbytes += batch.numel()
        torch.cuda.synchronize()
        t = time.perf_counter() - t0
        print("epoch %d: %d records, %.2f GB/s, checksum %.3f" % (epoch, len(ds), nbytes / t / 1e9, acc.item()))
