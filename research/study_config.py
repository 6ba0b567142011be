"""The derived configs the study scripts train from: written into the run's folder, beside its checkpoints."""
import json
import os


def write(cfg: dict, out: str) -> str:
    """``cfg`` as ``out``/study_config.json (``out`` created); returns the path."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "study_config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path
