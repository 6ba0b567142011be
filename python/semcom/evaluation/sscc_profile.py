"""The conventional codecs' rate profile for ``--codec auto`` (``codecs/auto.py``): per codec the
mean PSNR against bits per pixel, from semcom-eval rows where the frame arrived, and per link the
Es/N0 from which all its LDPC codewords decode (a Monte Carlo of the numpy chain: Gray QAM, AWGN,
max-log LLRs, the min-sum decoder). Plain Python (no GNU Radio)."""
from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np

from ..codecs.auto import ConventionalProfile, payload_bpp
from ..errors import SemcomError
from ..phy.channels import awgn, noise_var
from ..phy.constellations import constellation
from ..phy.link import LinkConfig

CONVENTIONAL = "conventional"
STEP_DB = 0.25  # threshold grid
CODEWORDS = 400  # per SNR point: a threshold is where none of them failed
CLEAR_DB = 1.0  # a threshold stands once every point this far above it decoded too


def codeword_errors(link: LinkConfig, snr_db: float, codewords: int, rng: np.random.Generator) -> float:
    """Fraction of ``codewords`` random LDPC codewords of ``link`` that failed at ``snr_db`` (AWGN)."""
    code, mapper = link.code, constellation(link.modulation)
    info = rng.integers(0, 2, (codewords, code.k)).astype(np.uint8)
    coded = code.encode(info).ravel()
    padded = np.zeros(-(-coded.size // link.bits_per_symbol) * link.bits_per_symbol, np.uint8)
    padded[:coded.size] = coded
    llr = mapper.llr(awgn(mapper.modulate(padded), snr_db, rng), noise_var(snr_db))[:coded.size]
    _, ok, _ = code.decode(llr.reshape(-1, code.n))
    return float(1.0 - np.mean(ok))


def link_threshold(link: LinkConfig, stop_db: float = 30.0, codewords: int = CODEWORDS, seed: int = 0) -> dict:
    """{threshold_db, cwer: {snr: fraction failed}}: the lowest grid Es/N0 from which every point
    up to ``CLEAR_DB`` above it decoded all ``codewords``; the scan starts at the Shannon limit of
    the link's rate."""
    rng = np.random.default_rng(seed)
    start_db = np.floor(10 * np.log10(2 ** (link.rate * link.bits_per_symbol) - 1) / STEP_DB) * STEP_DB
    cwer, clear_from = {}, None
    for snr in np.arange(start_db, stop_db + STEP_DB / 2, STEP_DB):
        snr = round(float(snr), 2)
        cwer[f"{snr:g}"] = rate = codeword_errors(link, snr, codewords, rng)
        if rate > 0:
            clear_from = None
        elif clear_from is None:
            clear_from = snr
        if clear_from is not None and snr - clear_from >= CLEAR_DB:
            return {"threshold_db": clear_from, "codewords": codewords,
                    "cwer": {s: r for s, r in cwer.items() if float(s) >= clear_from - 2.0}}
    raise SemcomError(f"{link.describe()} did not decode cleanly below {stop_db:g} dB")


def rate_points(rows, cpp: float) -> dict:
    """{codec: {bpp: [...], psnr_db: [...]}}: per conventional codec and link, the mean PSNR over
    the images whose frame arrived and the mean bits per pixel the image file was given."""
    per_image = {}
    for r in rows:
        if r.get("family") != CONVENTIONAL or r["lost"] or np.isnan(r["psnr_db"]) or not r["channel_uses"]:
            continue
        pixels = r["channel_uses"] / cpp
        bpp = payload_bpp(LinkConfig.parse(r["link"]), r["channel_uses"], pixels)
        per_image[(r["codec"], r["link"], r["image"])] = (bpp, r["psnr_db"])
    points = defaultdict(lambda: defaultdict(list))
    for (codec, link, _), value in per_image.items():
        points[codec][link].append(value)
    out = {}
    for codec, links in sorted(points.items()):
        means = sorted(tuple(np.mean(v, axis=0)) for v in links.values())
        out[codec] = {"bpp": [round(float(b), 6) for b, _ in means], "psnr_db": [round(float(p), 3) for _, p in means],
                      "images": min(len(v) for v in links.values())}
    return out


def write_profile(path: str, rows, cpp: float, links, codewords: int = CODEWORDS, seed: int = 0) -> dict:
    """Measures the thresholds of ``links`` and of the conventional links ``rows`` hold, takes the
    codecs' PSNR per bpp from ``rows`` and writes the profile to ``path`` (checked by loading it
    back); returns it."""
    codecs = rate_points(rows, cpp)
    links = list(dict.fromkeys([*links, *sorted({r["link"] for r in rows if r.get("family") == CONVENTIONAL})]))
    if not codecs:
        raise SemcomError("no conventional row where the frame arrived: run semcom-eval with conventional codecs first")
    profile = {"source": "semcom-eval rows (mean PSNR where the frame arrived, per codec and bits per pixel of "
                         "the image file) and a Monte Carlo of each link's LDPC codewords over AWGN",
               "cpp": cpp, "codecs": codecs,
               "links": {link: link_threshold(LinkConfig.parse(link), codewords=codewords, seed=seed)
                         for link in links if LinkConfig.parse(link).code is not None}}
    ConventionalProfile(profile, path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(profile, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return profile
