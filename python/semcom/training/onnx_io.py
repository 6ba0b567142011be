"""Writing and reading the ONNX files of an exported model (onnx and onnxruntime imported where used)."""
from __future__ import annotations

import json
import os
import sys

import numpy as np


def add_metadata(path: str, card: dict, role: str) -> None:
    import onnx
    model = onnx.load(path)
    props = {f"semcom.{k}": (v if isinstance(v, str) else json.dumps(v)) for k, v in card.items()}
    props["semcom.role"] = role
    props["semcom.card"] = json.dumps(card, sort_keys=True)
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "gr-semcom"
    onnx.checker.check_model(model)
    onnx.save(model, path)


def fast_upsampling_file(path: str) -> int:
    """The exact, faster upsampling of ``onnx_rewrite`` for a decoder file. Skipped without
    onnxruntime (it checks the rewrite), and with one line on stderr when the rewrite fails: the
    plain graph decodes the same image, only slower, so an export never fails for it."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return 0
    from .onnx_rewrite import rewrite_file
    try:
        return rewrite_file(path)
    except Exception as err:  # noqa: BLE001 (onnx, onnxruntime and the check raise their own types)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        print(f"{path}: left with its plain upsampling ({first})", file=sys.stderr)
        return 0


def read_metadata(path: str) -> dict:
    """``metadata_props`` of an ONNX file (via onnxruntime, no onnx package needed)."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return dict(sess.get_modelmeta().custom_metadata_map)


def initializers_not_inputs(path: str) -> None:
    """Drops the graph inputs that are initializers (what keep_initializers_as_inputs added)."""
    import onnx
    model = onnx.load(path)
    names = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in names]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    onnx.save(model, path)


def store_fp16(path: str) -> None:
    """Stores an ONNX file's float32 initializers as float16, each followed by a Cast to float32
    (ONNX Runtime folds the casts when it loads the model): half the file size."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(path)
    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            keep.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
        keep.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def write_card(out_dir: str, card: dict, paths: dict) -> None:
    """The card into each file's metadata ({role: path}) and into ``card.json``."""
    for role, path in paths.items():
        add_metadata(path, card, role)
    with open(os.path.join(out_dir, "card.json"), "w") as f:
        json.dump(card, f, indent=2, sort_keys=True)
        f.write("\n")
