"""int8 decoders: onnxruntime static quantisation of a model folder's decoder.onnx (no torch).

The decoder's inputs are bit posteriors P(b=1). Calibration feeds it the encoder's bits of real
photos as the receiver sees them: hard (error-free) and through QPSK over AWGN at a few Es/N0
(exact LLRs -> sigmoid). Weights are int8 per channel, activations uint8, in QDQ form, which
onnxruntime runs with its integer convolution kernels. ``compare`` measures what it costs
(PSNR against the float32 decoder on other photos) and what it gains (decode time).
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time

import numpy as np

from .. import metrics
from ..codecs.neural import DECODER_FILES, OnnxModel, posterior
from ..errors import SemcomError
from ..imageio import load_image
from ..phy import channels
from ..phy.constellations import constellation

CALIBRATION_SNR_DB = (0.0, 5.0, 10.0)  # plus the hard bits


def received_posteriors(model: OnnxModel, image: np.ndarray, snr_db: float | None, seed: int = 0) -> np.ndarray:
    """The decoder's input for ``image`` (flat): its bits, error-free (snr_db None) or as P(b=1) after
    QPSK over AWGN at Es/N0 = snr_db (exact LLRs, noise variance known)."""
    bits = model.encode(image)
    if snr_db is None:
        return bits.astype(np.float32)
    qpsk = constellation("qpsk")
    y = channels.awgn(qpsk.modulate(bits), snr_db, np.random.default_rng(seed))
    return posterior(qpsk.llr(y, channels.noise_var(snr_db)))


def quantize_decoder(folder: str, calibration: list[str], snrs_db=CALIBRATION_SNR_DB,
                     calibration_source: str = "") -> dict:
    """Writes ``decoder.int8.onnx`` next to ``decoder.onnx`` (same model card in its metadata);
    returns how it was calibrated. ``calibration_source`` names where the calibration photos came from."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise SemcomError("no calibration images")
    model = OnnxModel(folder, "float32")
    inputs = []
    for i, path in enumerate(calibration):
        image = load_image(path)
        shape = (1,) + model.latent_shape(*image.shape[:2])
        inputs += [received_posteriors(model, image, snr, seed=i).reshape(shape) for snr in (None, *snrs_db)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter({"p1": x} for x in inputs)

        def get_next(self):
            return next(self.items, None)

    source = model.paths["decoder"]
    target = os.path.join(folder, DECODER_FILES["int8"])
    with tempfile.TemporaryDirectory() as tmp:
        prepared = os.path.join(tmp, "decoder.pre.onnx")
        quant_pre_process(source, prepared)
        quantize_static(prepared, os.path.join(tmp, "decoder.int8.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
        quantized = onnx.load(os.path.join(tmp, "decoder.int8.onnx"))
    info = {"calibration_images": len(calibration), "calibration_snr_db": ["error-free", *snrs_db],
            "calibration_data": calibration_source or "given photos",
            "weights": "int8 per channel", "activations": "uint8", "format": "QDQ (onnxruntime.quantization)"}
    del quantized.metadata_props[:]
    for entry in onnx.load(source).metadata_props:  # the card, so the receiver accepts it as this model
        quantized.metadata_props.add(key=entry.key, value=entry.value)
    quantized.metadata_props.add(key="semcom.quantization", value=json.dumps(info, sort_keys=True))
    onnx.save(quantized, target + ".tmp")
    os.replace(target + ".tmp", target)  # never a partial decoder
    return info


def _decode_ms(model: OnnxModel, p1: np.ndarray, height: int, width: int, runs: int) -> float:
    model.decode(p1, height, width)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        model.decode(p1, height, width)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def compare(folder: str, images: list[str], snr_db: float = 3.0, runs: int = 5) -> dict:
    """int8 against float32 on ``images``: mean PSNR of each, error-free and at ``snr_db`` (QPSK,
    AWGN), and the median decode time of the largest image (both models alike, in one process)."""
    models = {p: OnnxModel(folder, p) for p in DECODER_FILES}
    psnr = {p: {"error_free": [], f"{snr_db:g}": []} for p in models}
    largest = None  # (p1, height, width)
    for i, path in enumerate(images):
        image = load_image(path)
        h, w = image.shape[:2]
        for key, snr in (("error_free", None), (f"{snr_db:g}", snr_db)):
            p1 = received_posteriors(models["float32"], image, snr, seed=1000 + i)
            largest = (p1, h, w) if largest is None or p1.size > largest[0].size else largest
            for precision, model in models.items():
                psnr[precision][key].append(metrics.psnr(image, model.decode(p1, h, w)))
    ms = {p: round(_decode_ms(m, *largest, runs), 1) for p, m in models.items()}
    mean = {p: {k: round(float(np.mean(v)), 3) for k, v in d.items()} for p, d in psnr.items()}
    return {"images": len(images), "psnr_db": mean,
            "int8_minus_float32_db": {k: round(mean["int8"][k] - mean["float32"][k], 3) for k in mean["int8"]},
            "decode_ms": ms, "decode_input": [1, *models["float32"].latent_shape(*largest[1:])],
            "speedup": round(ms["float32"] / ms["int8"], 2)}
