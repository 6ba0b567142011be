"""Exact rewrites of exported decoders that make ONNX Runtime's CPU kernels faster (onnx, no torch).

PixelShuffle exports as DepthToSpace, which ONNX Runtime's CPU provider runs as a generic 6-D
transpose outside its blocked (NCHWc) convolution layout: on a 768x512 image the four upsamplings
of a BitSemCom decoder cost about a sixth of the decode time. The same permutation is a grouped
ConvTranspose with one-hot 2x2 kernels (each output pixel copies exactly one input value, so the
result is bit-identical), which runs about three times faster. An activation right after the
shuffle commutes with it and moves in front, where ONNX Runtime fuses it into the convolution.
"""
from __future__ import annotations

import numpy as np

ELEMENTWISE = {"LeakyRelu", "Relu", "Sigmoid", "Tanh"}


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return a.s.decode() if a.type == a.STRING else a.i
    return default


def _channels(model) -> dict:
    """Channel count (dim 1) of every tensor whose channel count is static."""
    import onnx
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    out = {}
    for v in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            out[v.name] = dims[1].dim_value
    return out


def shuffle_kernel(channels: int, block: int) -> np.ndarray:
    """ConvTranspose weight (channels, 1, block, block), group channels // block**2, that equals
    DepthToSpace(block, mode CRD): input channel c*block**2 + i*block + j lands at (i, j)."""
    w = np.zeros((channels, 1, block, block), np.float32)
    phase = np.arange(channels) % (block * block)
    w[np.arange(channels), 0, phase // block, phase % block] = 1.0
    return w


def fast_upsampling(model) -> int:
    """Rewrites ``model`` (an onnx ModelProto) in place; returns how many DepthToSpace nodes it
    replaced (0: nothing to do, e.g. already rewritten)."""
    from onnx import helper, numpy_helper
    graph = model.graph
    consumers: dict = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    channels = _channels(model)
    nodes, moved, replaced = [], set(), 0  # moved: outputs of activations emitted before their shuffle
    for node in graph.node:
        if node.output and node.output[0] in moved:
            continue
        block = _attr(node, "blocksize") if node.op_type == "DepthToSpace" else None
        c = channels.get(node.input[0]) if block else None
        if not c or _attr(node, "mode", "DCR") != "CRD" or c % (block * block):
            nodes.append(node)
            continue
        weight = numpy_helper.from_array(shuffle_kernel(c, block), f"semcom.shuffle{replaced}")
        graph.initializer.append(weight)
        up = helper.make_node("ConvTranspose", [node.input[0], weight.name], list(node.output),
                              name=f"{node.name or 'DepthToSpace'}/as_conv_transpose{replaced}",
                              group=c // (block * block), kernel_shape=[block, block], strides=[block, block])
        after = consumers.get(node.output[0], [])
        if len(after) == 1 and after[0].op_type in ELEMENTWISE and node.output[0] not in outputs:
            act = after[0]  # act(shuffle(x)) == shuffle(act(x)): run act first, fused into the conv
            early = helper.make_node(act.op_type, [node.input[0]], [f"{node.output[0]}/before_shuffle{replaced}"],
                                     name=f"{act.name or act.op_type}/before_shuffle{replaced}")
            early.attribute.extend(act.attribute)
            up.input[0], up.output[0] = early.output[0], act.output[0]
            nodes.append(early)
            moved.add(act.output[0])
        nodes.append(up)
        replaced += 1
    if replaced:
        del graph.node[:]
        graph.node.extend(nodes)
    return replaced


def session(model_bytes: bytes):
    """An onnxruntime CPU session of a serialized model, its own errors not logged."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def _outputs(model_bytes: bytes, feeds: dict) -> list:
    return session(model_bytes).run(None, feeds)


def random_feeds(model, size: int = 8, seed: int = 0) -> dict:
    """Random inputs in [0, 1) (posteriors) for every graph input, symbolic dims set to ``size``."""
    rng = np.random.default_rng(seed)
    init = {i.name for i in model.graph.initializer}
    feeds = {}
    for v in model.graph.input:
        if v.name not in init:
            dims = [d.dim_value if d.HasField("dim_value") else (1 if k == 0 else size)
                    for k, d in enumerate(v.type.tensor_type.shape.dim)]
            feeds[v.name] = rng.random(dims, dtype=np.float32)
    return feeds


def rewrite_file(path: str) -> int:
    """``fast_upsampling`` of an ONNX decoder file, in place and atomically, after checking with
    onnxruntime that the rewritten graph computes bit-identical outputs on random inputs; returns
    the count (0: the file is left alone). RuntimeError when the outputs differ."""
    import os

    import onnx
    model = onnx.load(path)
    before = model.SerializeToString()
    count = fast_upsampling(model)
    if not count:
        return 0
    onnx.checker.check_model(model)
    after = model.SerializeToString()
    for size in (8, 32):  # some decoders need their tile grid: the first size the original runs at
        feeds = random_feeds(model, size)
        try:
            old_out = _outputs(before, feeds)
        except Exception:  # noqa: BLE001 (onnxruntime's own types)
            continue
        new_out = _outputs(after, feeds)
        if any(o.shape != n.shape or not np.array_equal(o, n) for o, n in zip(old_out, new_out)):
            raise RuntimeError(f"{path}: the rewritten upsampling changes the output; left as it was")
        break
    else:
        raise RuntimeError(f"{path}: cannot run the decoder on random inputs to check the rewrite; left as it was")
    with open(path + ".tmp", "wb") as f:
        f.write(after)
    os.replace(path + ".tmp", path)
    return count
