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
from ..phy.constellations import constellation

CALIBRATION_SNR_DB = (0.0, 5.0, 10.0)  # plus the hard bits


def received_posteriors(model: OnnxModel, image: np.ndarray, snr_db: float | None, seed: int = 0) -> np.ndarray:
    """The decoder's input for ``image``: its bits, error-free (snr_db None) or as P(b=1) after QPSK
    over AWGN at Es/N0 = snr_db (exact LLRs, noise variance known)."""
    h, w = image.shape[:2]
    bits = model.encode(image)
    if snr_db is None:
        p1 = bits.astype(np.float32)
    else:
        qpsk = constellation("qpsk")
        noise_var = 10 ** (-snr_db / 10)
        rng = np.random.default_rng(seed)
        x = qpsk.modulate(bits)
        y = x + np.sqrt(noise_var / 2) * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
        p1 = posterior(qpsk.llr(y, noise_var))
    return p1.reshape((1,) + model.latent_shape(h, w))


def quantize_decoder(folder: str, calibration: list[str], snrs_db=CALIBRATION_SNR_DB) -> dict:
    """Writes ``decoder.int8.onnx`` next to ``decoder.onnx`` (same model card in its metadata);
    returns how it was calibrated."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise SemcomError("no calibration images")
    model = OnnxModel(folder)
    inputs = []
    for i, path in enumerate(calibration):
        image = load_image(path)
        inputs += [received_posteriors(model, image, snr, seed=i) for snr in (None, *snrs_db)]

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
            "weights": "int8 per channel", "activations": "uint8", "format": "QDQ (onnxruntime.quantization)"}
    del quantized.metadata_props[:]
    for entry in onnx.load(source).metadata_props:  # the card, so the receiver accepts it as this model
        quantized.metadata_props.add(key=entry.key, value=entry.value)
    quantized.metadata_props.add(key="semcom.quantization", value=json.dumps(info, sort_keys=True))
    onnx.save(quantized, target)
    return info


def _decode_ms(session, p1: np.ndarray, runs: int) -> float:
    session.run(["image"], {"p1": p1})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(["image"], {"p1": p1})
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def compare(folder: str, images: list[str], snr_db: float = 3.0, runs: int = 5) -> dict:
    """int8 against float32 on ``images``: mean PSNR of each, error-free and at ``snr_db`` (QPSK,
    AWGN), and the median decode time of the largest image (both sessions alike, in one process)."""
    model = OnnxModel(folder)
    sessions = {}
    for precision in DECODER_FILES:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sessions[precision] = ort.InferenceSession(model.decoder_path(precision), opts,
                                                   providers=["CPUExecutionProvider"])
    psnr = {p: {"error_free": [], f"{snr_db:g}": []} for p in sessions}
    largest = None
    for i, path in enumerate(images):
        image = load_image(path)
        h, w = image.shape[:2]
        for key, snr in (("error_free", None), (f"{snr_db:g}", snr_db)):
            p1 = received_posteriors(model, image, snr, seed=1000 + i)
            largest = p1 if largest is None or p1.size > largest.size else largest
            for precision, session in sessions.items():
                out, = session.run(["image"], {"p1": p1})
                decoded = (np.clip(out[0].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)[:h, :w]
                psnr[precision][key].append(metrics.psnr(image, decoded))
    ms = {p: round(_decode_ms(s, largest, runs), 1) for p, s in sessions.items()}
    mean = {p: {k: round(float(np.mean(v)), 3) for k, v in d.items()} for p, d in psnr.items()}
    return {"images": len(images), "psnr_db": mean,
            "int8_minus_float32_db": {k: round(mean["int8"][k] - mean["float32"][k], 3) for k in mean["int8"]},
            "decode_ms": ms, "decode_input": list(largest.shape), "speedup": round(ms["float32"] / ms["int8"], 2)}
