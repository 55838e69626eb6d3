"""run_pytest.py TEST_FILE [pytest args] - runs one pytest file of this folder
with the interpreter CTest was given; exits 77 (CTest: skipped) when pytest or
NumPy is missing, saying why."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print("SKIP: %s (%s): install python3-pytest and python3-numpy" % (e, sys.executable))
    sys.exit(77)
sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", "-rs", os.path.join(here, sys.argv[1])] + sys.argv[2:]))
