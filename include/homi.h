/* homi.h - the public host API of HOMI (Host Orchestrated Multipath I/O).
 *
 * One engine per process (or per component) owns the I/O paths, the worker
 * rings and the in-process control plane.  Files are ordinary files; reads
 * land in caller memory and every byte is accounted to the path that served
 * it.  All functions return HOMI_OK (0) or a negative homi_err value unless
 * documented otherwise; homi_strerror() turns either into text.
 *
 * Thread safety: an engine and its files may be used from any number of
 * threads at once.  homi_close() must not race with reads on the same file.
 */
#ifndef HOMI_H
#define HOMI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HOMI_VERSION_MAJOR 0
#define HOMI_VERSION_MINOR 1
#define HOMI_VERSION_PATCH 0

/* ---------------------------------------------------------------- errors */

typedef enum homi_err {
    HOMI_OK = 0,
    HOMI_EINVAL = -1,     /* bad argument (NULL buffer, negative offset...) */
    HOMI_ENOMEM = -2,     /* out of memory                                   */
    HOMI_EIO = -3,        /* the storage returned an I/O error               */
    HOMI_EBADF = -4,      /* closed / foreign handle, or not open for that   */
    HOMI_ENOENT = -5,     /* file does not exist                             */
    HOMI_EISDIR = -6,     /* path names a directory                          */
    HOMI_EACCES = -7,     /* permission denied                               */
    HOMI_ERANGE = -8,     /* offset/length overflow or too large             */
    HOMI_EHINT = -9,      /* unknown configuration key                       */
    HOMI_EHINTVAL = -10,  /* bad value for a known configuration key         */
    HOMI_ENOTSUP = -11,   /* requested feature/path is not available         */
    HOMI_ESYS = -12,      /* other system error (see errno / the log)        */
    HOMI_EBUSY = -13,     /* resource busy (too many files, queue full)      */
    HOMI_ETIMEDOUT = -14, /* wait timed out                                  */
    HOMI_ENOTREG = -15,   /* not a regular file                              */
    HOMI_ENOSPC = -16,    /* no space left on the file system (or quota)     */
} homi_err;

/* Text for a homi_err value (never NULL). */
const char *homi_strerror(int err);

/* ---------------------------------------------------------------- paths */

/* The I/O paths of DESIGN.md.  HOMI_PATH_HOLE is not an I/O path: it counts
 * bytes of file holes that were served as zeros without any I/O. */
typedef enum homi_path_id {
    HOMI_PATH_KERNEL = 0,    /* io_uring through the file system            */
    HOMI_PATH_PASSTHRU = 1,  /* NVMe commands from extents (uring_cmd)      */
    HOMI_PATH_DEVICE = 2,    /* GPU-initiated, host-mediated                */
    HOMI_PATH_CUFILE = 3,    /* NVIDIA cuFile / GPUDirect Storage           */
    HOMI_PATH_HOLE = 4,      /* zero-fill of holes, no I/O                  */
    HOMI_PATH_DELEGATED = 5, /* queue pairs of a controller the control plane
                                owns through vfio-pci (homi_delegate hint)  */
    HOMI_PATH_COUNT = 6
} homi_path_id;
/* 1 when p names an I/O path a request may ask for (not HOMI_PATH_HOLE). */
#define HOMI_PATH_IS_IO(p) ((p) >= 0 && (p) < HOMI_PATH_COUNT && (p) != HOMI_PATH_HOLE)

const char *homi_path_name(int path);

/* Why a request (or part of one) did not take the path it would otherwise
 * have taken.  Every fallback is counted; none is silent. */
typedef enum homi_fallback {
    HOMI_FB_PATH_UNAVAILABLE = 0, /* requested path not available here       */
    HOMI_FB_DIRECT_UNSUPPORTED,   /* file system refused O_DIRECT: buffered  */
    HOMI_FB_DIRECT_UNALIGNED,     /* O_DIRECT piece went through a bounce    */
    HOMI_FB_EXTENT_UNSAFE,        /* extent not safe to read raw             */
    HOMI_FB_NO_NVME,              /* backing device is not an NVMe namespace */
    HOMI_FB_MAP_STALE,            /* file changed: extent map rebuilt        */
    HOMI_FB_MAP_FAILED,           /* FIEMAP unavailable: no hole planning    */
    HOMI_FB_PASSTHRU_ERROR,       /* NVMe command failed: re-read by kernel  */
    HOMI_FB_CHANGED_IN_FLIGHT,    /* file changed during a raw read: re-read */
    HOMI_FB_DAEMON_LOST,          /* homid unreachable or died: served in-process */
    HOMI_FB_QUEUE_BUSY,           /* no delegated queue pair free (all granted) */
    HOMI_FB_COUNT
} homi_fallback;

const char *homi_fallback_name(int reason);

/* ---------------------------------------------------------------- config */

/* A configuration is a set of key/value hints.  The same keys are used by
 * environment variables (key upper-cased: homi_threads -> HOMI_THREADS), by
 * MPI-IO hints and by the HDF5 driver.  See docs/hints.md for every key. */
typedef struct homi_config homi_config;

/* New configuration holding the built-in defaults. */
homi_config *homi_config_new(void);
void homi_config_free(homi_config *cfg);
/* Set one hint.  HOMI_EHINT for an unknown key, HOMI_EHINTVAL for a bad
 * value; the configuration is unchanged on error. */
int homi_config_set(homi_config *cfg, const char *key, const char *value);
/* Apply every HOMI_<KEY> environment variable that names a known key.
 * Returns HOMI_OK or the first error (and names the variable in the log). */
int homi_config_load_env(homi_config *cfg);
/* Current value of a key as text into buf; HOMI_EHINT if unknown. */
int homi_config_get(const homi_config *cfg, const char *key, char *buf, size_t buflen);
/* Iterate keys: returns the i-th known key name or NULL past the end. */
const char *homi_config_key(unsigned i);
/* One-line description of a key (NULL if unknown). */
const char *homi_config_help(const char *key);

/* ---------------------------------------------------------------- engine */

typedef struct homi_engine homi_engine;
typedef struct homi_file homi_file;

/* Create an engine.  cfg may be NULL: defaults plus HOMI_* environment.
 * When cfg is given it is used as is (call homi_config_load_env on it first
 * to let the environment override).  The engine copies cfg. */
int homi_engine_create(const homi_config *cfg, homi_engine **out);
/* Waits for in-flight requests, closes remaining files, frees everything. */
void homi_engine_destroy(homi_engine *eng);

/* Shared engines, for front-ends that open and close files often (the
 * MPI-IO and HDF5 drivers).  homi_engine_acquire returns the process's
 * engine for a configuration equal to cfg (NULL: defaults plus HOMI_*
 * environment), creating it on first use, and counts a reference.
 * homi_engine_release drops one.  An engine whose last reference is
 * released stays cached and warm (worker rings, pinned staging pool, CUDA
 * streams), so the next acquire does not pay that set-up inside its first
 * read; at most HOMI_ENGINE_CACHE_IDLE idle engines are kept (the least
 * recently released goes first; the environment variable of that name
 * overrides it, 0 destroying an engine at its last release).
 * homi_engine_cache_flush destroys the idle ones and returns how many it
 * destroyed; engines still referenced stay.  Never pass an acquired engine
 * to homi_engine_destroy. */
#define HOMI_ENGINE_CACHE_IDLE 4
int homi_engine_acquire(const homi_config *cfg, homi_engine **out);
void homi_engine_release(homi_engine *eng);
int homi_engine_cache_flush(void);

/* ---------------------------------------------------------------- files */

#define HOMI_RDONLY 0x0
#define HOMI_RDWR 0x1
#define HOMI_CREATE 0x2 /* with HOMI_RDWR: create if missing (mode 0644) */
#define HOMI_TRUNC 0x4  /* with HOMI_RDWR: truncate on open                */

int homi_open(homi_engine *eng, const char *path, unsigned flags, homi_file **out);
/* Close a file; reads on it must have completed.  NULL is a no-op. */
int homi_close(homi_file *f);
/* Current size in bytes (fstat), or a negative homi_err. */
int64_t homi_file_size(homi_file *f);

/* Per-file hint.  Only "homi_path" (auto|kernel|passthru|device|cufile) is
 * per file; "auto" returns the file to the engine's choice.  HOMI_EHINT
 * for another key, HOMI_EHINTVAL for a bad value. */
int homi_file_set_hint(homi_file *f, const char *key, const char *value);

/* Can this file be read on path?  Returns 1 (yes), 0 (no: the reason is
 * written to why) or a negative homi_err. */
int homi_file_path_status(homi_file *f, int path, char *why, size_t whylen);

/* ---------------------------------------------------------------- memory */

/* Where a destination buffer lives.  HOMI_MEM_AUTO detects it (with CUDA
 * builds: cudaPointerGetAttributes); host memory is the only kind a build
 * without CUDA accepts. */
typedef enum homi_mem_kind {
    HOMI_MEM_AUTO = 0,
    HOMI_MEM_HOST = 1,
    HOMI_MEM_PINNED = 2,
    HOMI_MEM_DEVICE = 3,
} homi_mem_kind;

/* ---------------------------------------------------------------- reads */

/* Synchronous read, like pread(2): returns the number of bytes read (short
 * only at end of file; 0 at or past EOF) or a negative homi_err. */
int64_t homi_pread(homi_file *f, void *buf, size_t len, int64_t offset);

/* Per-request options.  A zero-initialised struct means: detect the memory
 * kind, let the engine choose the path (hint homi_path). */
typedef struct homi_read_opts {
    homi_mem_kind mem; /* destination memory kind, default AUTO              */
    int path;          /* a homi_path_id, used only with HOMI_READ_FORCE_PATH */
    unsigned flags;    /* HOMI_READ_* below; other bits must be 0             */
} homi_read_opts;
/* opts.flags: serve this request on opts.path (falls back to kernel, counted
 * as path-unavailable, when that path is not available). */
#define HOMI_READ_FORCE_PATH 0x1u
/* Value of the homi_path hint meaning "let the engine choose"; also accepted
 * in opts.path. */
#define HOMI_PATH_AUTO (-1)

int64_t homi_pread_ex(homi_file *f, void *buf, size_t len, int64_t offset,
                      const homi_read_opts *opts);

/* ---------------------------------------------------------------- scattered reads */

/* One piece of a scattered read: len bytes at file offset offset into buf. */
typedef struct homi_piece {
    int64_t offset;
    size_t len;
    void *buf;
} homi_piece;

/* homi_read_pieces flags: zero the bytes of pieces that lie past the end of
 * the file (otherwise they are left as they are). */
#define HOMI_PIECES_ZERO_EOF 0x1u

/* Read n pieces of one file, synchronously.  Pieces may come in any order
 * and overlap in the file; their destinations must not overlap.  Every
 * destination is the same kind of memory: mem, or with HOMI_MEM_AUTO the
 * kind of the first piece's buffer.  Pieces of at least homi_pieces_direct
 * bytes are read on their own (device memory: the staging pipeline); the
 * smaller ones are grouped into sieve windows (file ranges whose pieces lie
 * less than homi_pieces_gap apart, at most half a staging buffer long),
 * each read once and scattered to its destinations (into device memory by
 * one copy kernel per window).  Returns the piece bytes that lie before the
 * end of the file, or a negative homi_err (then some pieces may have been
 * written).  Bytes read for windows count on their path in homi_stats. */
int64_t homi_read_pieces(homi_file *f, const homi_piece *pieces, size_t n, homi_mem_kind mem,
                         unsigned flags);

/* A 2-D piece: count rows of len bytes, row r from file offset
 * offset + r * fstride into buf + r * mstride (mstride >= len; rows may
 * overlap in the file).  A strided selection is one 2-D piece per row of
 * blocks instead of one piece per block, so planning costs per 2-D piece. */
typedef struct homi_piece2d {
    int64_t offset;
    size_t len;
    size_t count;
    uint64_t fstride;
    void *buf;
    uint64_t mstride;
} homi_piece2d;

/* homi_read_pieces for 2-D pieces (same rules, flags and result). */
int64_t homi_read_pieces2d(homi_file *f, const homi_piece2d *pieces, size_t n, homi_mem_kind mem,
                           unsigned flags);

/* Synchronous write, like pwrite(2), from host, pinned or CUDA device
 * memory (files opened HOMI_RDWR); see "writes" below.  Returns the bytes
 * written or a negative homi_err. */
int64_t homi_pwrite(homi_file *f, const void *buf, size_t len, int64_t offset);

/* ---------------------------------------------------------------- async */

/* One asynchronous read request. */
typedef struct homi_io {
    homi_file *file;
    void *buf;
    size_t len;
    int64_t offset;
    uint64_t user_data; /* returned in the completion                     */
    homi_read_opts opts;
} homi_io;

/* One completion. */
typedef struct homi_completion {
    uint64_t user_data;
    int64_t result;     /* bytes read or negative homi_err               */
    uint32_t path_mask; /* bit (1u << homi_path_id) for each path used   */
    uint32_t reserved;
} homi_completion;

/* Submit n requests.  Returns n when all were queued, or a negative
 * homi_err when the batch was rejected (then none was queued: arguments
 * are validated for the whole batch first). */
int homi_submit(homi_engine *eng, const homi_io *ios, unsigned n);
/* Collect up to max completions without blocking; returns the count. */
int homi_poll(homi_engine *eng, homi_completion *out, unsigned max);
/* Block until at least min (<= max) completions are available or
 * timeout_ms passes (-1: forever).  Returns the count collected (which is
 * less than min only on timeout) or a negative homi_err. */
int homi_wait(homi_engine *eng, homi_completion *out, unsigned min, unsigned max, int timeout_ms);
/* Number of submitted requests whose completion was not collected yet. */
unsigned homi_inflight(homi_engine *eng);

/* ---------------------------------------------------------------- GPU */

/* Reads whose destination is CUDA device memory (detected, or declared with
 * opts.mem = HOMI_MEM_DEVICE) run through the pinned staging pipeline, or
 * through cuFile where it moves data storage -> GPU directly (see the
 * homi_cufile hint).  Builds without CUDA return HOMI_ENOTSUP for them. */

/* 1 when this library was built with CUDA and a GPU is usable, else 0. */
int homi_cuda_available(void);

/* Stream-ordered read into device memory: returns at once; work queued on
 * cuda_stream (a cudaStream_t) after this call sees the bytes, and *result
 * (host memory) holds the byte count or a negative homi_err once the stream
 * has reached this point.  Reads on one stream complete in order. */
int homi_read_to_stream(homi_file *f, void *dev_buf, size_t len, int64_t offset, void *cuda_stream,
                        int64_t *result);

/* Wait until the work queued on cuda_stream (a cudaStream_t; NULL or
 * cudaStreamLegacy: the legacy default stream of device, or of the current
 * device when device < 0) has finished.  For front-ends that get a buffer
 * together with the stream its producer still works on (the Python module:
 * __cuda_array_interface__ v3, DLPack) and must not let HOMI's staging
 * copies overtake that work.  HOMI_ENOTSUP without CUDA or GPU. */
int homi_cuda_stream_sync(void *cuda_stream, int device);

/* "gds" (cuFile moves data storage -> GPU), "compat" (cuFile runs through
 * its own bounce buffers) or "unavailable". */
const char *homi_cufile_status(homi_engine *eng);

/* ---------------------------------------------------------------- stats */

typedef struct homi_path_stats {
    uint64_t bytes;    /* bytes delivered by this path                     */
    uint64_t requests; /* sub-requests (chunks) served by this path        */
    uint64_t ns;       /* sum of sub-request service times, nanoseconds    */
} homi_path_stats;

typedef struct homi_stats {
    homi_path_stats path[HOMI_PATH_COUNT];
    uint64_t fallbacks[HOMI_FB_COUNT];
    uint64_t reads;        /* user-level read requests completed           */
    uint64_t read_bytes;   /* bytes returned to the user                   */
    uint64_t errors;       /* user-level requests that failed              */
    uint64_t map_builds;   /* extent maps built (FIEMAP walks)             */
    uint64_t staged_bytes; /* bytes copied to GPU memory through the pinned staging pipeline */
    uint64_t nvme_cmds;    /* NVMe Read commands completed by the passthrough path */
    uint64_t daemon_bytes; /* bytes served by the node daemon homid (HOMI_SOCKET) */
    /* writes (appended; the fields above keep their places) */
    uint64_t writes;                             /* user-level write requests completed          */
    uint64_t write_bytes;                        /* bytes the writes put in the file             */
    uint64_t staged_write_bytes;                 /* bytes copied GPU -> pinned staging for writes */
    uint64_t syncs;                              /* homi_fsync calls that succeeded              */
    homi_path_stats write_path[HOMI_PATH_COUNT]; /* bytes written per path (kernel only) */
} homi_stats;

int homi_file_stats(homi_file *f, homi_stats *out);
int homi_engine_stats(homi_engine *eng, homi_stats *out);
/* Human-readable multi-line summary of s (paths, bytes, fallbacks). */
void homi_stats_print(const homi_stats *s, double seconds, void *file /* FILE* */);

/* The report of the homi-info tool, written to file (a FILE*).  path NULL:
 * the engine part (HOMI version, each path available or why not, NVMe
 * namespaces; with HOMI_INFO_HINTS every configuration key and value).
 * With a path: that file's size, backing device, NVMe namespace,
 * passthrough usability, O_DIRECT alignment and extent map (at most
 * max_extents ranges, 0 = all), each range with its class, the path a read
 * of it takes and why.  HOMI_OK, or a negative homi_err when the file
 * cannot be opened (errno is that of open(2)) or is not a regular file. */
#define HOMI_INFO_SYNC 0x1u  /* write dirty data back before mapping  */
#define HOMI_INFO_HINTS 0x2u /* list the configuration (path NULL)    */
int homi_info_print(homi_engine *eng, const char *path, unsigned flags, size_t max_extents,
                    void *file);

/* Library version string "major.minor.patch". */
const char *homi_version(void);

/* ---------------------------------------------------------------- memory helpers */

/* Small memory services for front-ends (MPI-IO driver, HDF5 driver, the
 * collective engine) so that they move bytes between host, pinned and CUDA
 * device memory without linking CUDA themselves.  Builds or machines
 * without CUDA handle host memory only (HOMI_ENOTSUP for the rest). */

/* Kind of [buf, buf+len): HOMI_MEM_HOST, HOMI_MEM_PINNED or HOMI_MEM_DEVICE
 * (then *device is the CUDA ordinal, else -1), or a negative homi_err. */
int homi_mem_kind_of(const void *buf, size_t len, int *device);
/* Allocate len bytes of the given kind (HOST: malloc, PINNED: cudaHostAlloc
 * or malloc without CUDA, DEVICE: cudaMalloc on device). */
int homi_mem_alloc(homi_mem_kind kind, int device, size_t len, void **out);
void homi_mem_free(homi_mem_kind kind, void *p);
/* Copy n pieces dst[i] <- src[i] (len[i] bytes) between any kinds of memory;
 * returns once all bytes are in place.  Device copies run on one stream of
 * device (or of the current device when device < 0). */
int homi_mem_copyv(unsigned n, void *const *dst, const void *const *src, const size_t *len,
                   int device);

/* CUDA IPC: share a device allocation made with homi_mem_alloc between the
 * processes of one node. */
typedef struct homi_ipc_handle {
    unsigned char bytes[64]; /* cudaIpcMemHandle_t */
} homi_ipc_handle;
int homi_ipc_export(void *dev_base, homi_ipc_handle *out);
/* Map a peer's allocation into this process on device (the caller's GPU). */
int homi_ipc_open(const homi_ipc_handle *h, int device, void **out);
int homi_ipc_close(void *mapped);
/* 1 when memory of GPU peer can be mapped (IPC) and read on GPU device:
 * the same device, or peer access between the two; else 0. */
int homi_ipc_peer_ok(int device, int peer);

/* ---------------------------------------------------------------- writes */

/* Writes (checkpoints).  A write's source is host, pinned or CUDA device
 * memory, detected like a read's destination or declared in opts.mem.
 * Writes always take the kernel path (io_uring through the file system;
 * asking for another path counts a path-unavailable fallback), buffered,
 * or O_DIRECT when the engine's homi_direct hint is on: the page-aligned
 * middle of a request is written O_DIRECT, an unaligned head and tail page
 * (and any piece whose memory is not aligned for O_DIRECT) buffered, each
 * counted as a direct-unaligned fallback.  Device memory goes through the
 * pinned staging pipeline in the device -> host direction: the copy of
 * staging slot k+1 overlaps the io_uring writes of slot k.  Every write
 * invalidates the file's extent map.  Statistics: write_path[] (always
 * kernel), writes, write_bytes, staged_write_bytes.
 *
 * Result: the number of bytes from the start of the request that are known
 * to be in the file.  When the file system refuses part of a request (full,
 * file size limit, I/O error), the result is that prefix if it is not empty
 * (like pwrite(2), the next write then returns the error), else the error:
 * HOMI_ENOSPC, HOMI_ERANGE (past the maximum file size or RLIMIT_FSIZE),
 * HOMI_EACCES, HOMI_EIO, HOMI_EINVAL (device source no longer valid).
 * Bytes of the request after that prefix may or may not have been written;
 * nothing outside the request is touched.
 *
 * Ordering within one process: a write is "issued" when homi_pwrite[_ex],
 * homi_submit or homi_write_from_stream is called.  A read (any entry
 * point) issued after a write that overlaps it, or that extends the file
 * over it, returns the written bytes (or the hole before them): it waits
 * for that write to complete.  A write that overlaps an earlier
 * write still in flight waits for it before it is issued (the call may
 * block), so overlapping writes land in issue order.  A read in flight
 * when an overlapping write is issued may return old or new bytes (collect
 * it first).  homi_fsync waits for the writes issued before it.  A
 * stream-ordered write is in flight from its call until its stream has run
 * it, so these waits can last until the stream reaches it. */

/* pwrite with options: opts.mem declares the source memory kind; opts.path
 * and HOMI_READ_FORCE_PATH are accepted (writes always take the kernel
 * path).  HOMI_IO_WRITE in opts.flags is allowed and implied. */
int64_t homi_pwrite_ex(homi_file *f, const void *buf, size_t len, int64_t offset,
                       const homi_read_opts *opts);

/* In homi_io.opts.flags: this request writes len bytes from buf (treated
 * as const) at offset instead of reading.  Reads and writes may be mixed in
 * one homi_submit batch; completions report bytes written (the prefix rule
 * above) and path_mask (1u << HOMI_PATH_KERNEL). */
#define HOMI_IO_WRITE 0x2u

/* Stream-ordered write from device memory: returns at once; the write
 * starts when cuda_stream (a cudaStream_t) reaches this point (work queued
 * on the stream before this call has finished writing dev_buf), and work
 * queued on the stream after this call runs once the bytes are in the file
 * (so it may overwrite dev_buf).  *result (host memory) holds the byte
 * count or a negative homi_err by then.  Writes on one stream are issued in
 * order.  host or pinned memory is accepted as well. */
int homi_write_from_stream(homi_file *f, const void *dev_buf, size_t len, int64_t offset,
                           void *cuda_stream, int64_t *result);

/* Durability without a separate descriptor: waits for the writes to f
 * issued before this call, then fsync(2) (flags 0) or fdatasync(2)
 * (HOMI_FSYNC_DATA) of the file.  HOMI_OK or a negative homi_err (an
 * earlier write-back error is reported here, as by fsync(2)). */
#define HOMI_FSYNC_DATA 0x1u
int homi_fsync(homi_file *f, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* HOMI_H */
