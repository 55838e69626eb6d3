"""Array allocation for File.read and the dataset helper: NumPy on the host,
CuPy or PyTorch on a GPU (imported only when asked for)."""
import numpy as _np


def _parse(device):
    """-> (library, gpu index): library is "numpy", "cupy" or "torch"."""
    if device is None or device == "cpu":
        return "numpy", None
    if hasattr(device, "type") and hasattr(device, "index"):  # torch.device
        if device.type != "cuda":
            raise ValueError("device %r is not a CUDA device" % (device,))
        return "torch", device.index or 0
    if isinstance(device, bool):
        raise TypeError("device must be None, a string, an int or a torch.device")
    if isinstance(device, int):
        try:
            import cupy  # noqa: F401

            return "cupy", device
        except ImportError:
            return "torch", device
    if isinstance(device, str):
        lib, _, idx = device.partition(":")
        if lib == "cuda":
            lib = "torch"
        if lib not in ("cupy", "torch") or (idx and not idx.isdigit()):
            raise ValueError("device must be 'cupy[:N]', 'torch[:N]' or 'cuda[:N]', got %r" % device)
        return lib, int(idx) if idx else 0
    raise TypeError("device must be None, a string, an int or a torch.device")


def torch_dtype(dtype):
    import torch

    return torch.from_numpy(_np.empty(0, dtype=dtype)).dtype


def empty(shape, device=None, dtype=None, nbytes=False):
    """A new C-contiguous array on device.  With nbytes=True, shape[0] is a byte
    count (a multiple of the dtype's size); returns (array, itemsize)."""
    dt = _np.dtype(_np.uint8 if dtype is None else dtype)
    if dt.hasobject:
        raise TypeError("dtype %s holds Python objects" % dt)
    shape = tuple(int(s) for s in shape)
    if nbytes:
        if shape[0] % dt.itemsize:
            raise ValueError("size %d is not a multiple of the item size %d of %s" % (shape[0], dt.itemsize, dt))
        shape = (shape[0] // dt.itemsize,) + shape[1:]
    lib, idx = _parse(device)
    if lib == "numpy":
        arr = _np.empty(shape, dtype=dt)
    elif lib == "cupy":
        import cupy

        with cupy.cuda.Device(idx):
            arr = cupy.empty(shape, dtype=dt)
    else:
        import torch

        arr = torch.empty(shape, dtype=torch_dtype(dt), device="cuda:%d" % idx)
    return (arr, dt.itemsize) if nbytes else arr
