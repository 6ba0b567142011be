"""The studies' tests share tests/conftest.py's markers (loaded under a name of its own)."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "semcom_tests_conftest", os.path.join(os.path.dirname(__file__), "..", "..", "tests", "conftest.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)

pytest_configure = _base.pytest_configure
