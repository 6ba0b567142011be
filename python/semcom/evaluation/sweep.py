"""semcom-eval: sweep codec x link x channel x SNR over a folder of images through
the GNU Radio chain, and write CSV, JSON, a Markdown summary and a PSNR-vs-SNR plot."""
from __future__ import annotations

import csv
import json
import os
from collections import defaultdict

import numpy as np

from .. import metrics
from ..codecs import registry, sscc
from ..errors import SemcomError
from ..imageio import list_images, load_image
from ..phy.channels import capacity
from ..phy.link import FEC_NONE, LinkConfig, channel_use_budget

CAPACITY = "avif+capacity"  # AVIF at the channel's capacity, error-free
ENVELOPE = "sscc-envelope"
FIELDS = ["image", "codec", "family", "link", "channel", "snr_db", "psnr_db", "ms_ssim", "lost", "reason",
          "payload_bits", "channel_uses"]
CONVENTIONAL, LEARNED, REFERENCE = "conventional", "learned", "reference"


def family(codec: str) -> str:
    """Learned codecs (those saying so, and those sending their bits uncoded) or conventional ones."""
    c = registry.get(codec)
    return LEARNED if getattr(c, "learned", c.default_fec == FEC_NONE) else CONVENTIONAL


def links_for(codec: str, links, learned_links):
    """Conventional codecs: every ``links`` entry. Learned ones: every ``learned_links`` modulation,
    with the codec's own FEC where it has one (the masked VQ-VAE's LDPC 1/2) and the entry names none."""
    if family(codec) != LEARNED:
        return links
    fec = registry.get(codec).default_fec
    return [m if "/" in m or fec == FEC_NONE else f"{m}/{fec}" for m in learned_links]


def channel_label(channel: str, waveform: str = "ideal", impaired: bool = False) -> str:
    """'awgn' for the ideal synchronised link; 'awgn/sc+impaired' etc. over the burst waveform."""
    if waveform == "ideal":
        return channel
    return f"{channel}/{waveform}" + ("+impaired" if impaired else "")


def open_link(codec, link, cpp, channel, snr, seed, ldpc_backend, waveform="ideal", impaired=False):
    """SimLink (ideal, synchronised symbols) or AirLink (burst waveform through channel_model)."""
    if waveform == "ideal":
        from ..links.sim import SimLink
        return SimLink(codec, link.modulation, link.fec, cpp, channel, snr, seed=seed, ldpc_backend=ldpc_backend)
    from ..links.air import ACCEPTANCE, AirLink, AirOptions, Impairments
    imp = Impairments(snr, rayleigh=channel == "rayleigh", seed=seed, **(ACCEPTANCE if impaired else {}))
    return AirLink(codec, link.modulation, link.fec, cpp, imp, AirOptions(waveform))


def sweep(images, codecs, links, channels, snrs, cpp, progress=None, seed=0, ldpc_backend="minsum",
          learned_links=("qpsk",), reference=True, waveform="ideal", impaired=False):
    """Yields one row dict per (image, codec, link, channel, snr), plus the capacity reference.
    Conventional codecs run over ``links`` (modulation/LDPC), learned ones over ``learned_links``.
    ``waveform`` sc/ofdm sends bursts through channel_model (``impaired``: the acceptance CFO,
    timing offset and multipath); rows then name the channel like 'awgn/sc+impaired'."""
    loaded = [(os.path.basename(p), load_image(p)) for p in images]
    for channel_name in channels:
        channel = channel_label(channel_name, waveform, impaired)
        for codec in codecs:
            fam = family(codec)
            for link_text in links_for(codec, links, learned_links):
                link = LinkConfig.parse(link_text)
                with open_link(codec, link, cpp, channel_name, snrs[0], seed, ldpc_backend, waveform,
                               impaired) as sim:
                    for name, image in loaded:
                        for snr in snrs:
                            sim.set_snr(snr)
                            try:
                                r = sim.transmit(image)
                            except SemcomError as err:  # budget too small for this link: skip the point
                                yield {"image": name, "codec": codec, "family": fam, "link": link_text,
                                       "channel": channel,
                                       "snr_db": snr, "psnr_db": float("nan"), "ms_ssim": float("nan"),
                                       "lost": True, "reason": str(err), "payload_bits": 0, "channel_uses": 0}
                                progress and progress(1)
                                continue
                            yield {"image": name, "codec": codec, "family": fam, "link": link_text,
                                   "channel": channel, "snr_db": snr, "psnr_db": metrics.psnr(image, r.image),
                                   "ms_ssim": metrics.ms_ssim(image, r.image), "lost": r.lost, "reason": r.reason,
                                   "payload_bits": r.payload_bits, "channel_uses": r.channel_uses}
                            progress and progress(1)
        for name, image in loaded if reference and channel_name in ("awgn", "rayleigh") else ():  # no MIMO formula
            h, w = image.shape[:2]
            cu = channel_use_budget(cpp, h, w)
            for snr in snrs:
                ref = sscc.capacity_reference(image, snr, cu, "avif", channel_name)
                yield {"image": name, "codec": CAPACITY, "family": REFERENCE, "link": "capacity", "channel": channel, "snr_db": snr,
                       "psnr_db": metrics.psnr(image, ref), "ms_ssim": metrics.ms_ssim(image, ref), "lost": False,
                       "reason": "", "payload_bits": int(cu * capacity(channel_name, snr)), "channel_uses": cu}
                progress and progress(1)


def series(rows, per_link=False):
    """{(channel, series name): {snr: (mean psnr, mean ms-ssim)}}: per codec the best link
    for each image and SNR (``per_link``: one series per codec and link), the SSCC envelope over
    all conventional codecs and links, and the reference."""
    best = defaultdict(dict)
    for r in rows:
        if np.isnan(r["psnr_db"]):
            continue
        own = f"{r['codec']} {r['link']}" if per_link and r["codec"] != CAPACITY else r["codec"]
        names = {own} | ({ENVELOPE} if r.get("family") == CONVENTIONAL else set())
        for name in names:
            key = (r["channel"], name, r["snr_db"], r["image"])
            if key not in best or r["psnr_db"] > best[key][0]:
                best[key] = (r["psnr_db"], r["ms_ssim"])
    out = defaultdict(lambda: defaultdict(list))
    for (channel, name, snr, _), value in best.items():
        out[(channel, name)][snr].append(value)
    return {k: {snr: tuple(np.mean(v, axis=0)) for snr, v in sorted(d.items())} for k, d in out.items()}


def waveform_table(rows, tolerance_db: float = 1.0) -> str:
    """Markdown: each codec's mean PSNR on the ideal channel against every over-the-air channel
    label in ``rows`` at the same SNR and images, with the difference and whether it is within
    ``tolerance_db``."""
    summary = series(rows)
    ideal = sorted({c for c, _ in summary if "/" not in c})
    air = sorted({c for c, _ in summary if "/" in c})
    counts = defaultdict(set)
    for r in rows:
        if not np.isnan(r["psnr_db"]):
            counts[(r["channel"], r["codec"])].add(r["image"])
    head = "| codec | SNR dB | images | " + " | ".join(ideal + air) + " | within %g dB |" % tolerance_db
    lines = [head, "|" + "---|" * (4 + len(ideal) + len(air))]
    for (channel, name), points in sorted(summary.items()):
        if channel not in ideal or name == CAPACITY:
            continue
        for snr, (psnr, _) in points.items():
            cells, ok = [f"{psnr:.2f}"], True
            for label in air:
                other = summary.get((label, name), {}).get(snr)
                if other is None:
                    cells.append("–")
                    continue
                delta = other[0] - psnr
                ok &= delta >= -tolerance_db
                cells.append(f"{other[0]:.2f} ({delta:+.2f})")
            n = len(counts[(channel, name)]) if name != ENVELOPE else len({r["image"] for r in rows})
            lines.append(f"| {name} | {snr:g} | {n} | " + " | ".join(cells) + f" | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def write_outputs(rows, out_dir, cpp, n_images, per_link=False):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = series(rows, per_link)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"cpp": cpp, "images": n_images, "rows": rows,
                   "summary": {f"{c}/{n}": {str(s): {"psnr_db": p, "ms_ssim": m} for s, (p, m) in d.items()}
                               for (c, n), d in summary.items()}}, f, indent=1, default=float)
    table = markdown_table(summary, cpp, n_images, covered_images(rows))
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(table)
    plot(summary, os.path.join(out_dir, "psnr_vs_snr.png"), cpp, n_images)
    families = {r["codec"]: r.get("family") for r in rows}
    with open(os.path.join(out_dir, "findings.md"), "w") as f:
        f.write(findings(rows, [c for c, fam in sorted(families.items()) if fam == LEARNED]))
    if any("/" in r["channel"] for r in rows):  # over-the-air rows: compare with the ideal channel
        with open(os.path.join(out_dir, "waveforms.md"), "w") as f:
            f.write(waveform_table(rows) + "\n")
    return table


def covered_images(rows) -> dict:
    """{(channel, series): images with a result}; a learned model skips sizes its budget cannot carry."""
    out = defaultdict(set)
    for r in rows:
        if not np.isnan(r["psnr_db"]):
            out[(r["channel"], r["codec"])].add(r["image"])
            out[(r["channel"], f"{r['codec']} {r['link']}")].add(r["image"])  # per-link series
            if r.get("family") == CONVENTIONAL:
                out[(r["channel"], ENVELOPE)].add(r["image"])
    return out


def findings(rows, learned) -> str:
    """Per channel: each learned codec's PSNR minus the SSCC envelope's at every SNR, on the images
    the codec could send, and every series' largest PSNR drop between neighbouring SNR points (a
    cliff shows up there)."""
    summary, covered = series(rows), covered_images(rows)
    lines = []
    for channel in sorted({c for c, _ in summary}):
        env = summary.get((channel, ENVELOPE))
        names = [n for n in learned if (channel, n) in summary]
        if not env or not names:
            continue
        snrs = sorted(env)
        lines += [f"**{channel}**: PSNR gain over the SSCC envelope on the same images (dB), and the largest "
                  "drop between neighbouring SNR points\n", "| series | images | "
                  + " | ".join(f"{s:g} dB" for s in snrs) + " | largest drop |", "|---" * (len(snrs) + 3) + "|"]
        for name in names + [ENVELOPE]:
            d = summary[(channel, name)]
            images = covered[(channel, name)]
            same = series([r for r in rows if r["channel"] == channel and r["image"] in images])[(channel, ENVELOPE)]
            gains = [f"{d[s][0] - same[s][0]:+.2f}" if s in d and s in same else "-" for s in snrs]
            pts = [s for s in snrs if s in d]
            drop = max((d[a][0] - d[b][0] for a, b in zip(pts[1:], pts)), default=0.0)
            drop_at = next((f"{a:g} to {b:g} dB" for a, b in zip(pts[1:], pts) if d[a][0] - d[b][0] == drop), "")
            lines.append(f"| {name} | {len(images)} | " + " | ".join(gains) + f" | {max(drop, 0):.2f} dB ({drop_at}) |")
        lines.append("")
    return "\n".join(lines)


def markdown_table(summary, cpp, n_images, covered=None):
    lines = []
    for channel in sorted({c for c, _ in summary}):
        names = sorted(n for c, n in summary if c == channel)
        snrs = sorted({s for (c, _), d in summary.items() if c == channel for s in d})
        lines.append(f"**{channel}**, cpp {cpp:.4g}, {n_images} image(s); each series is the mean over the "
                     "images it could send (`images`): PSNR dB / MS-SSIM\n")
        lines.append("| series | images | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
        lines.append("|---" * (len(snrs) + 2) + "|")
        for name in names:
            d = summary[(channel, name)]
            cells = [f"{d[s][0]:.2f} / {d[s][1]:.3f}" if s in d else "-" for s in snrs]
            n = len((covered or {}).get((channel, name), ())) or n_images
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(summary, path, cpp, n_images):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    channels = sorted({c for c, _ in summary})
    fig, axes = plt.subplots(1, len(channels), figsize=(6.5 * len(channels), 4.5), squeeze=False)
    for ax, channel in zip(axes[0], channels):
        for (c, name), d in sorted(summary.items()):
            if c != channel:
                continue
            snrs = list(d)
            style = dict(lw=2.5, color="k") if name == ENVELOPE else dict(ls="--", color="grey") \
                if name == CAPACITY else dict(marker="o", alpha=0.8)
            ax.plot(snrs, [d[s][0] for s in snrs], label=name, **style)
        ax.set(title=f"{channel}, cpp {cpp:.4g}, {n_images} image(s)", xlabel="SNR Es/N0 (dB)", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def images_in(folder, limit):
    paths = list_images(folder)
    return paths[:limit] if limit else paths


def read_rows(path: str) -> list[dict]:
    """Rows of an earlier results.csv (numbers and flags parsed back)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise SemcomError(f"cannot read {path} ({err.strerror})") from None
    for r in rows:
        for key in ("snr_db", "psnr_db", "ms_ssim"):
            r[key] = float(r[key])
        for key in ("payload_bits", "channel_uses"):
            r[key] = int(r[key])
        r["lost"] = r["lost"] == "True"
        r.setdefault("family", REFERENCE if r["codec"] == CAPACITY else CONVENTIONAL)
    return rows


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows for points (codec, link, channel, image, SNR) the new sweep did not cover, then ``new``."""
    def key(r):
        return r["codec"], r["link"], r["channel"], r["image"], float(r["snr_db"])
    covered = {key(r) for r in new}
    return [r for r in old if key(r) not in covered] + list(new)
