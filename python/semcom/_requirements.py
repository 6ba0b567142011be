"""The Python packages the blocks and apps need (requirements.txt), checked before the blocks load."""
import importlib

RUNTIME = {"numpy": "numpy", "PIL": "pillow", "onnxruntime": "onnxruntime"}  # module -> pip package


def require_runtime() -> None:
    """ImportError naming every missing runtime package and how to install it."""
    missing = []
    for module, package in RUNTIME.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise ImportError(
            f"gr-semcom needs the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)}, which "
            "this Python cannot import: pip install -r requirements.txt in a venv made with --system-site-packages, "
            "or for Debian's python3 with --user --break-system-packages (PEP 668; docs/install.md)")
