"""The compiled blocks of lib/ (``semcom_python``, pybind11), installed beside this package."""
try:
    from .. import semcom_python  # noqa: F401
except ImportError:  # this package imported from the source tree (tests): the installed build's
    try:
        from gnuradio.semcom import semcom_python  # noqa: F401
    except ImportError as err:
        raise ImportError("gr-semcom's compiled blocks (semcom_python) are not installed: build and install "
                          "with `bash scripts/bootstrap.sh` (or cmake, make install)") from err
