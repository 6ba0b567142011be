#!/usr/bin/env python3
"""Rate matching and tiling cost at 768x512: the codec path against the pre-rate-matching encode/decode
(commit a57e882, re-stated here), alternated, 1 ONNX thread, medians of 9. python3 research/rate_matching_overhead.py"""
import time, statistics, numpy as np, os
os.environ["SEMCOM_ORT_THREADS"] = "1"
from gnuradio.semcom.codecs import neural, registry
from gnuradio.semcom.codecs.base import Received
from gnuradio.semcom.imageio import load_image
from gnuradio.semcom.phy.link import LinkConfig
img = load_image("examples/images/kodim23.png"); h, w = img.shape[:2]
codec = registry.get("bitsemcom-qpsk-cpp16"); m = codec.model; link = LinkConfig("qpsk", "none")
enc_s, dec_s = m.session("encoder"), m.session("decoder")
def old_encode(image, seed=0):  # the encode of commit a57e882 (before rate matching and tiles)
    padded, _ = neural.pad_to_multiple(image, 16)
    x = (padded.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    bits, logits = enc_s.run(["bits", "logits"], {"image": np.ascontiguousarray(x)})
    u = np.random.default_rng(seed).random(logits.size).clip(1e-6, 1 - 1e-6)
    return (logits.reshape(-1) + np.log(u) - np.log1p(-u) > 0).astype(np.uint8)
def old_decode(llrs):
    x = neural.posterior(llrs).reshape((1,) + m.latent_shape(h, w))
    out, = dec_s.run(["image"], {"p1": x})
    im = (np.clip(out[0].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(neural.crop_back(im, (h, w)))
bits = old_encode(img); llr_old = np.where(bits > 0, 4.0, -4.0).astype(np.float32)
enc = codec.encode(img, link, h * w // 16)
rx = Received(enc.bits, np.where(enc.bits > 0, 4.0, -4.0).astype(np.float32), True, {**enc.meta, "height": h, "width": w})
t = {k: [] for k in ("old_enc", "new_enc", "old_dec", "new_dec")}
for _ in range(9):
    for k, f in (("old_enc", lambda: old_encode(img)), ("new_enc", lambda: codec.encode(img, link, h * w // 16)),
                 ("old_dec", lambda: old_decode(llr_old)), ("new_dec", lambda: codec.decode(rx))):
        t0 = time.perf_counter(); f(); t[k].append(time.perf_counter() - t0)
med = {k: 1e3 * statistics.median(v) for k, v in t.items()}
print({k: round(v, 1) for k, v in med.items()}, "new/old encode", round(med["new_enc"] / med["old_enc"], 3), "decode", round(med["new_dec"] / med["old_dec"], 3))
