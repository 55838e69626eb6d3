/* bench_gpu.h - `homi-bench --gpu`: file -> GPU memory benchmark (see
 * bench/README.md).  Built into homi-bench only when CUDA is available
 * (HOMI_BENCH_GPU). */
#ifndef HOMI_BENCH_GPU_H
#define HOMI_BENCH_GPU_H

/* Entry point of the GPU mode.  argv is homi-bench's own argv; every "--gpu"
 * in it (before a "--") is ignored.  Returns the process exit status:
 * 0 ok, 1 I/O or verification error, 2 bad usage, 77 no usable CUDA device. */
int homi_bench_gpu_main(int argc, char **argv);

#endif
