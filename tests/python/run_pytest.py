"""run_pytest.py TEST_FILE [pytest args] - runs one pytest file of this folder
with the interpreter CTest was given.  Exits 77 (CTest: skipped), saying why,
when pytest or NumPy is missing, when a GPU test file finds no CUDA build of
libhomi / no GPU / neither CuPy nor PyTorch, or when pytest ran no test."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree


def skip(why):
    print("SKIP: %s (%s)" % (why, sys.executable))
    sys.exit(77)


try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    skip("%s: install python3-pytest and python3-numpy" % e)
if "gpu" in sys.argv[1]:
    import homi

    if not homi.cuda_available():
        skip("libhomi has no CUDA or no GPU is usable here")
    have = []
    for mod in ("cupy", "torch"):
        try:
            __import__(mod)
            have.append(mod)
        except ImportError:
            pass
    if not have:
        skip("neither CuPy nor PyTorch is installed")
    print("GPU tests with: %s" % ", ".join(have))
rc = pytest.main(["-p", "no:cacheprovider", "-q", "-rs", os.path.join(here, sys.argv[1])] + sys.argv[2:])
sys.exit(77 if rc == pytest.ExitCode.NO_TESTS_COLLECTED else int(rc))
