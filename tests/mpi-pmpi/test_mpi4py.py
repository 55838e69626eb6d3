"""test_mpi4py.py DIR - Debian's mpi4py (python3-mpi4py, unmodified) through
libhomi_mpiio preloaded into Debian's Open MPI: every rank reads its block
of a 2-D float64 array into a NumPy array through a subarray file view,
collectively (Read_all, Read_at_all, Iread_at_all + Wait), with the hint
homi=enable, and the same through the MPI library's own driver
(homi=disable); both must equal the array NumPy reads from the file, the
counts must be exact, and the layer must report the bytes HOMI served."""
import os
import sys

try:
    import numpy as np
    from mpi4py import MPI
except ImportError as e:  # CI installs python3-mpi4py and python3-numpy
    print(f"SKIP: {e}")
    sys.exit(77)

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
G, H = 240, 180
path = os.path.join(sys.argv[1], f"mpi4py-{size}.dat")
if rank == 0:
    os.makedirs(sys.argv[1], exist_ok=True)
    np.random.default_rng(7).standard_normal((G, H)).tofile(path)
comm.Barrier()
full = np.fromfile(path, dtype=np.float64).reshape(G, H)
dims = MPI.Compute_dims(size, 2)
sub = [G // dims[0], H // dims[1]]
starts = [(rank // dims[1]) * sub[0], (rank % dims[1]) * sub[1]]
want = full[starts[0]:starts[0] + sub[0], starts[1]:starts[1] + sub[1]]
ftype = MPI.DOUBLE.Create_subarray([G, H], sub, starts).Commit()
fails = 0


def check(ok, what):
    global fails
    if not ok:
        fails += 1
        print(f"rank {rank}: FAIL {what}", file=sys.stderr)


for hint in ("disable", "enable"):
    info = MPI.Info.Create()
    info.Set("homi", hint)
    fh = MPI.File.Open(comm, path, MPI.MODE_RDONLY, info)
    info.Free()
    fh.Set_view(0, MPI.DOUBLE, ftype)
    for how in ("Read_all", "Read_at_all", "Iread_at_all"):
        out = np.zeros(sub, dtype=np.float64)
        st = MPI.Status()
        if how == "Read_all":
            fh.Seek(0)
            fh.Read_all(out, st)
        elif how == "Read_at_all":
            fh.Read_at_all(0, out, st)
        else:
            fh.Iread_at_all(0, out).Wait(st)
        check(st.Get_count(MPI.DOUBLE) == out.size, f"{hint} {how}: count {st.Get_count(MPI.DOUBLE)}")
        check(np.array_equal(out, want), f"{hint} {how}: data differ from NumPy's read")
    got = fh.Get_info()
    served = got.Get("homi_mpiio")
    nbytes = int(got.Get("homi_served_bytes") or -1)
    got.Free()
    fh.Close()
    if hint == "enable":
        check(served == "pmpi", f"not served by libhomi_mpiio ({served})")
        total = comm.allreduce(max(nbytes, 0))
        check(total >= 3 * G * H * 8, f"HOMI served {total} bytes in all")
        if rank == 0:
            print(f"mpi4py: HOMI served {total} bytes into NumPy arrays")
    else:
        check(served is None, "homi=disable was served by the layer")
ftype.Free()
fails = comm.allreduce(fails)
if rank == 0:
    os.unlink(path)
    print("test_mpi4py: all checks passed" if not fails else f"test_mpi4py: {fails} failure(s)")
sys.exit(1 if fails else 0)
