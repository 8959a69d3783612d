"""Shared test set-up: the tests folder is importable (``helpers_data``, the tiny params of
``test_training``), whatever the working directory pytest runs from."""
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
