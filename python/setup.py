"""setup.py - builds and installs the homi Python package (the C extension
homi._homi against an existing libhomi).  Where libhomi is, in this order:

  HOMI_BUILD_DIR=<cmake build dir>   this source tree's headers, <dir>/src/libhomi.so
  HOMI_PREFIX=<install prefix>       <prefix>/include, <prefix>/lib* (cmake --install)
  pkg-config homi                    an installed tree on PKG_CONFIG_PATH
  ../build                           an in-tree build next to this folder

The extension records libhomi's directory as its run path, so no
LD_LIBRARY_PATH is needed.  Offline: python3 -m pip install --no-build-isolation .
(see docs/python.md)."""
import glob
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)  # sources are named relative to this folder
TREE_INCLUDE = os.path.join(HERE, "..", "include")


def _libdir(prefix):
    cands = [os.path.join(prefix, "lib64"), os.path.join(prefix, "lib")]
    cands += sorted(glob.glob(os.path.join(prefix, "lib", "*-linux-gnu")))
    for p in cands:
        if glob.glob(os.path.join(p, "libhomi.so*")):
            return p
    raise SystemExit("homi: no libhomi.so under %s/lib*" % prefix)


def homi_location():
    """-> (include dirs, library dirs)"""
    build = os.environ.get("HOMI_BUILD_DIR")
    if build:
        return [TREE_INCLUDE], [os.path.abspath(os.path.join(build, "src"))]
    prefix = os.environ.get("HOMI_PREFIX")
    if prefix:
        return [os.path.join(prefix, "include")], [_libdir(prefix)]
    try:
        cflags = subprocess.check_output(["pkg-config", "--cflags-only-I", "homi"], text=True)
        libs = subprocess.check_output(["pkg-config", "--libs-only-L", "homi"], text=True)
        inc = [f[2:] for f in shlex.split(cflags) if f.startswith("-I")]
        lib = [f[2:] for f in shlex.split(libs) if f.startswith("-L")]
        return inc, lib
    except (OSError, subprocess.CalledProcessError):
        pass
    build = os.path.join(HERE, "..", "build")
    if glob.glob(os.path.join(build, "src", "libhomi.so*")):
        return [TREE_INCLUDE], [os.path.abspath(os.path.join(build, "src"))]
    raise SystemExit(
        "homi: libhomi not found: set HOMI_BUILD_DIR (a CMake build of HOMI), HOMI_PREFIX "
        "(an installed HOMI) or PKG_CONFIG_PATH so that pkg-config finds homi"
    )


def version(include_dirs):
    for d in include_dirs:
        h = os.path.join(d, "homi.h")
        if os.path.exists(h):
            text = open(h).read()
            parts = [re.search(r"#define HOMI_VERSION_%s (\d+)" % k, text).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
            return ".".join(parts)
    return "0.0.0"


inc, lib = homi_location()
setup(
    name="homi",
    version=version(inc),
    description="Read files into host or CUDA device memory through HOMI (Host Orchestrated Multipath I/O)",
    packages=["homi"],
    python_requires=">=3.10",
    install_requires=[],  # numpy is needed by File.read and homi.torch; CuPy / PyTorch optional
    ext_modules=[
        Extension(
            "homi._homi",
            sources=sorted(glob.glob("src/*.c")),
            depends=sorted(glob.glob("src/*.h")),
            include_dirs=inc,
            library_dirs=lib,
            runtime_library_dirs=lib,
            libraries=["homi"],
            define_macros=[("_GNU_SOURCE", None)],
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ],
)
