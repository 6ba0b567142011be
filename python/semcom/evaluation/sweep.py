"""semcom-eval: sweep codec x link x channel x SNR over a folder of images through
the GNU Radio chain, and write CSV, JSON, a Markdown summary and a PSNR-vs-SNR plot."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .. import metrics
from ..codecs import registry, sscc
from ..errors import SemcomError
from ..imageio import list_images, load_image, save_image
from ..phy.channels import capacity
from ..phy.link import FEC_NONE, LinkConfig, channel_use_budget

CONVENTIONAL, LEARNED, REFERENCE = "conventional", "learned", "reference"

CAPACITY = "avif+capacity"  # AVIF at the channel's capacity, error-free
ENVELOPE = "sscc-envelope"
LEARNED_ENVELOPE = "learned-envelope"  # per image and SNR the best learned model x modulation
AUTO = "bitsemcom@auto"  # at each SNR the model and modulation the cards' measured curves pick
CODEC_AUTO = "auto"  # per image and SNR the codec x link the rate table picks (tx_image.py --codec auto)
ENVELOPES = {CONVENTIONAL: ENVELOPE, LEARNED: LEARNED_ENVELOPE}
PICKED = "picked"  # the family of AUTO's rows: copies of learned rows, not measurements of their own
FIELDS = ["image", "codec", "family", "link", "channel", "snr_db", "psnr_db", "ms_ssim", "lost", "reason",
          "payload_bits", "channel_uses"]


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


def channel_label(channel: str, waveform: str = "ideal", impaired: bool = False, sequence: bool = False) -> str:
    """'awgn' for the ideal synchronised link; 'awgn/sc+impaired' etc. over the burst waveform,
    '+sequence' where the receiver's sequence detector was on."""
    if waveform == "ideal":
        return channel
    return f"{channel}/{waveform}" + ("+impaired" if impaired else "") + ("+sequence" if sequence else "")


def open_link(codec, link, cpp, channel, snr, seed, ldpc_backend, waveform="ideal", impaired=False, sequence=False):
    """IdealLink (ideal, synchronised symbols) or AirLink (burst waveform through channel_model)."""
    if waveform == "ideal":
        from ..flowgraphs.ideal import IdealLink
        return IdealLink(codec, link.modulation, link.fec, cpp, channel, snr, seed=seed, ldpc_backend=ldpc_backend)
    from ..flowgraphs.air import ACCEPTANCE, AirLink, AirOptions, Impairments
    imp = Impairments(snr, rayleigh=channel == "rayleigh", seed=seed, **(ACCEPTANCE if impaired else {}))
    return AirLink(codec, link.modulation, link.fec, cpp, imp, AirOptions(waveform, sequence_detector=sequence))


@dataclass(frozen=True)
class Unit:
    """One image through one codec x link x channel at every SNR: the plain description a worker
    process (or a Dask worker on another machine) runs with ``run_unit``."""
    image: str  # path, readable where the unit runs
    codec: str
    link: str
    channel: str
    snrs: tuple
    cpp: float
    seed: int
    ldpc_backend: str = "minsum"
    waveform: str = "ideal"
    impaired: bool = False
    keep_images: bool = False
    sequence: bool = False  # the sc receiver's sequence detector (``AirOptions.sequence_detector``)


def point_seed(seed: int, *identity) -> int:
    """The channel seed of one point, from ``seed`` and the point's identity (image, codec, link,
    channel, SNR): the same whatever order, process or machine the points run in."""
    digest = hashlib.sha256(repr((int(seed),) + identity).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def run_unit(unit: Unit) -> list[tuple[dict, np.ndarray | None]]:
    """(row, received image or None) per SNR of ``unit``; a point whose budget is too small for
    the link gives a lost row with the reason."""
    name, image = os.path.basename(unit.image), load_image(unit.image)
    fam, link = family(unit.codec), LinkConfig.parse(unit.link)
    channel = channel_label(unit.channel, unit.waveform, unit.impaired, unit.sequence)
    out, sim = [], None
    try:
        for snr in unit.snrs:
            seed = point_seed(unit.seed, name, unit.codec, unit.link, channel, float(snr))
            if sim is None or unit.waveform != "ideal":  # the burst waveform's channel takes its seed when built
                sim and sim.close()
                sim = open_link(unit.codec, link, unit.cpp, unit.channel, snr, seed, unit.ldpc_backend,
                                unit.waveform, unit.impaired, unit.sequence)
            else:
                sim.reseed(seed)
            sim.set_snr(snr)
            row = {"image": name, "codec": unit.codec, "family": fam, "link": unit.link, "channel": channel,
                   "snr_db": snr}
            try:
                r = sim.transmit(image)
            except SemcomError as err:  # budget too small for this link: skip the point
                out.append(({**row, "psnr_db": float("nan"), "ms_ssim": float("nan"), "lost": True,
                             "reason": str(err), "payload_bits": 0, "channel_uses": 0}, None))
                continue
            out.append(({**row, "psnr_db": metrics.psnr(image, r.image), "ms_ssim": metrics.ms_ssim(image, r.image),
                         "lost": r.lost, "reason": r.reason, "payload_bits": r.payload_bits,
                         "channel_uses": r.channel_uses}, r.image if unit.keep_images else None))
    finally:
        sim and sim.close()
    return out


def units(images, codecs, links, channels, snrs, cpp, seed=0, ldpc_backend="minsum", learned_links=("qpsk",),
          waveform="ideal", impaired=False, keep_images=False, sequence=False) -> list[Unit]:
    """The sweep's units, channel by channel, codec by codec, link by link, image by image."""
    return [Unit(path, codec, link_text, channel, tuple(snrs), cpp, seed, ldpc_backend, waveform, impaired, keep_images,
                 sequence)
            for channel in channels for codec in codecs for link_text in links_for(codec, links, learned_links)
            for path in images]


def sweep(images, codecs, links, channels, snrs, cpp, progress=None, seed=0, ldpc_backend="minsum",
          learned_links=("qpsk",), reference=True, waveform="ideal", impaired=False, received=None, jobs=1,
          scheduler=None, sequence=False):
    """Yields one row dict per (image, codec, link, channel, snr), plus the capacity reference.
    Conventional codecs run over ``links`` (modulation/LDPC), learned ones over ``learned_links``.
    ``waveform`` sc/ofdm sends bursts through channel_model (``impaired``: the acceptance CFO,
    timing offset and multipath); rows then name the channel like 'awgn/sc+impaired'; ``sequence``:
    the receiver's sequence detector on ('+sequence').
    ``received(row, image)``, when given, gets every received image with its row.
    ``jobs`` worker processes (``parallel.run``), or ``scheduler`` a Dask cluster, run the units;
    each point's seed comes from ``seed`` and its identity, so the rows do not depend on either."""
    from . import parallel
    todo = units(images, codecs, links, channels, snrs, cpp, seed, ldpc_backend, learned_links, waveform, impaired,
                 received is not None, sequence)
    done = parallel.run(run_unit, todo, jobs, scheduler, progress=progress and (lambda result: progress(len(result))))
    loaded = [(os.path.basename(p), load_image(p)) for p in images] if reference else []
    for channel_name in channels:
        channel = channel_label(channel_name, waveform, impaired, sequence)
        for unit, result in zip(todo, done):
            if unit.channel != channel_name:
                continue
            for row, image in result:
                if received and image is not None:
                    received(row, image)
                yield row
        for name, image in loaded if channel_name in ("awgn", "rayleigh") else ():  # no MIMO formula
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
    all conventional codecs and links, the learned envelope over all learned ones, and the reference."""
    best = defaultdict(dict)
    for r in rows:
        if np.isnan(r["psnr_db"]):
            continue
        own = f"{r['codec']} {r['link']}" if per_link and r["codec"] not in (CAPACITY, AUTO, CODEC_AUTO) else r["codec"]
        names = {own} | ({ENVELOPES[r["family"]]} if r.get("family") in ENVELOPES else set())
        for name in names:
            key = (r["channel"], name, r["snr_db"], r["image"])
            if key not in best or r["psnr_db"] > best[key][0]:
                best[key] = (r["psnr_db"], r["ms_ssim"])
    out = defaultdict(lambda: defaultdict(list))
    for (channel, name, snr, _), value in best.items():
        out[(channel, name)][snr].append(value)
    return {k: {snr: tuple(np.mean(v, axis=0)) for snr, v in sorted(d.items())} for k, d in out.items()}


class ReceivedImages:
    """The ``received`` callback of ``sweep``: keeps, per (image, codec, channel, SNR), the received
    image of the link with the best PSNR, and writes every received image into ``folder`` if given."""

    def __init__(self, folder=None):
        self.folder = folder
        self.best = {}

    def __call__(self, row, image):
        if self.folder:
            stem = os.path.splitext(row["image"])[0]
            label = "_".join([stem, row["codec"], row["link"], row["channel"], f"{row['snr_db']:g}dB"])
            save_image(os.path.join(self.folder, label.replace("/", "-") + ".png"), image)
        key = (row["image"], row["codec"], row["channel"], row["snr_db"])
        if key not in self.best or row["psnr_db"] > self.best[key][0]["psnr_db"]:
            self.best[key] = (row, image)

    def grid(self, path, image_path, codecs, channel, snrs):
        """A picture at ``path``: the photo at ``image_path`` sent, then one row per codec, one column per
        SNR, each received image (best link) captioned with its PSNR, MS-SSIM and link."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        name, sent = os.path.basename(image_path), load_image(image_path)
        h, w = sent.shape[:2]
        cell = 2.4
        fig, axes = plt.subplots(len(codecs), len(snrs) + 1, squeeze=False,
                                 figsize=(cell * (len(snrs) + 1), cell * h / w * len(codecs) * 1.25))
        for i, codec in enumerate(codecs):
            cells = [("sent" if i == 0 else "", sent if i == 0 else None)]
            for snr in snrs:
                row, image = self.best.get((name, codec, channel, snr), (None, None))
                text = "not sent" if row is None else (f"{row['psnr_db']:.1f} dB / {row['ms_ssim']:.3f}\n{row['link']}"
                                                       + (" (lost)" if row["lost"] else ""))
                cells.append((text, image))
            for j, (ax, (text, image)) in enumerate(zip(axes[i], cells)):
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(image is not None)
                if image is not None:
                    ax.imshow(image)
                ax.set_xlabel(text, fontsize=7)
                if i == 0 and j:
                    ax.set_title(f"{channel} {snrs[j - 1]:g} dB", fontsize=9)
                if j == 1:
                    ax.set_ylabel(codec, fontsize=8)
        fig.suptitle(f"{name}: received image, PSNR dB / MS-SSIM and link", fontsize=10)
        fig.tight_layout()
        jpeg = path.lower().endswith((".jpg", ".jpeg"))
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            fig.savefig(path, dpi=100, **({"pil_kwargs": {"quality": 85}} if jpeg else {}))
        except (OSError, ValueError) as err:
            raise SemcomError(f"cannot write the grid {path} ({err}); give a writable .png or .jpg path") from None
        finally:
            plt.close(fig)


def waveform_table(rows, tolerance_db: float = 1.0) -> str:
    """Markdown: each codec's mean PSNR on the ideal channel against every over-the-air channel
    label in ``rows`` at the same SNR and images, with the difference and whether it is within
    ``tolerance_db``."""
    summary, counts = series(rows), covered_images(rows)
    ideal = sorted({c for c, _ in summary if "/" not in c})
    air = sorted({c for c, _ in summary if "/" in c})
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
            n = len(counts[(channel, name)])
            lines.append(f"| {name} | {snr:g} | {n} | " + " | ".join(cells) + f" | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def write_outputs(rows, out_dir, cpp, n_images, per_link=False):
    """results.csv (the measured rows), results.json, summary.md, findings.md and the plot; these
    also show ``AUTO``, from the measured rows its picks select (``auto_rows``)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    measured, rows = rows, rows + auto_rows(rows, cpp) + codec_auto_rows(rows, cpp)
    summary = series(rows, per_link)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"cpp": cpp, "images": n_images, "rows": measured,
                   "summary": {f"{c}/{n}": {str(s): {"psnr_db": p, "ms_ssim": m} for s, (p, m) in d.items()}
                               for (c, n), d in summary.items()}}, f, indent=1, default=float)
    table = markdown_table(summary, cpp, n_images, covered_images(rows))
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(table)
    for name, (metric, label) in METRICS.items():
        plot(summary, os.path.join(out_dir, name), cpp, n_images, metric, label)
    families = {r["codec"]: r.get("family") for r in rows}
    with open(os.path.join(out_dir, "findings.md"), "w") as f:
        f.write(findings(rows, [c for c, fam in sorted(families.items()) if fam in (LEARNED, PICKED)]))
    choice = choice_table(rows, "awgn")
    if choice:
        with open(os.path.join(out_dir, "choice.md"), "w") as f:
            f.write("\n".join(choice))
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
            if r.get("family") in ENVELOPES:
                out[(r["channel"], ENVELOPES[r["family"]])].add(r["image"])
    return out


def auto_rows(rows, cpp, curves=None) -> list[dict]:
    """The ``AUTO`` series: at each SNR, copies of the learned rows of the (model, modulation)
    whose curve (``curves`` {(model, modulation): {snr_db: PSNR}}, by default the installed BitSemCom
    cards' measured at ``cpp``) is highest (``neural.pick_link``), among the pairs ``rows`` hold;
    [] without curves. The rows name the pick as their link."""
    from ..codecs import neural
    held = {(r["codec"], r["link"]) for r in rows if r.get("family") == LEARNED}
    if curves is None:
        curves = registry.get(neural.FAMILY).curves(cpp) if held else {}
    curves = {key: curve for key, curve in curves.items() if key in held}
    picks = {}
    out = []
    for r in rows:
        key = (r["codec"], r["link"])
        if key not in curves:
            continue
        if r["snr_db"] not in picks:
            picks[r["snr_db"]] = neural.pick_link(curves, r["snr_db"])[0]
        if picks[r["snr_db"]] == key:
            out.append({**r, "codec": AUTO, "family": PICKED, "link": "@".join(key)})
    return out


def codec_auto_rows(rows, cpp, table=None) -> list[dict]:
    """The ``CODEC_AUTO`` series: per channel, image and SNR, a copy of the row of the candidate
    ``table`` (``codecs.auto.RateTable``, by default the installed one at ``cpp``) ranks first
    among the (codec, link) pairs ``rows`` hold; [] without a table. The rows name the pick as
    their link."""
    from ..codecs import auto
    measured = [r for r in rows if r.get("family") in (LEARNED, CONVENTIONAL)]
    if table is None:
        try:
            table = auto.RateTable.installed(cpp)
        except SemcomError:  # no profile or no curves: no auto series
            return []
    held = {(r["codec"], r["link"]) for r in measured}
    among = [c for c in table.candidates if (c.codec, c.link) in held]
    by_point = {(r["codec"], r["link"], r["channel"], r["image"], r["snr_db"]): r for r in measured}
    pixels = defaultdict(int)
    for r in measured:
        pixels[r["image"]] = max(pixels[r["image"]], round(r["channel_uses"] / cpp))
    out = []
    for channel, image, snr in sorted({(r["channel"], r["image"], r["snr_db"]) for r in measured}):
        ranked = table.ranked(snr, pixels[image], among) if pixels[image] else []
        row = next((by_point[k] for k in ((c.codec, c.link, channel, image, snr) for c, _ in ranked)
                    if k in by_point), None)
        if row is not None:
            out.append({**row, "codec": CODEC_AUTO, "family": PICKED, "link": f"{row['codec']}@{row['link']}"})
    return out


def auto_table(rows, channel) -> list[str]:
    """Markdown lines: ``CODEC_AUTO`` against the better of the learned and SSCC envelopes (means
    over the images), against the best single codec x link (the best mean over the images: a choice
    made without knowing which frames the noise lets through), with what it picked how often."""
    summary = series(rows)
    auto = summary.get((channel, CODEC_AUTO))
    if not auto:
        return []
    learned, sscc = summary.get((channel, LEARNED_ENVELOPE), {}), summary.get((channel, ENVELOPE), {})
    singles = {(codec, link): d for (ch, codec, link), d in
               link_series([r for r in rows if r.get("family") in ENVELOPES]).items() if ch == channel}
    lines = [f"**{channel}**: `{CODEC_AUTO}` (per image the codec x link the rate table predicts best, "
             "`tx_image.py --codec auto`) against the better of the learned and SSCC envelopes (per image the "
             "best series), and against the best single codec x link (per SNR the best mean), mean PSNR dB\n",
             "| SNR dB | learned envelope | SSCC envelope | better | auto | auto - better | best single | "
             "auto - best single | picks |", "|---" * 9 + "|"]
    for snr, (psnr, _) in auto.items():
        envs = [d[snr][0] for d in (learned, sscc) if snr in d]
        best = max(envs) if envs else float("nan")
        single, name = max(((d[snr][0], "@".join(k)) for k, d in singles.items() if snr in d),
                           default=(float("nan"), "-"))
        picks = defaultdict(int)
        for r in rows:
            if r["channel"] == channel and r["codec"] == CODEC_AUTO and r["snr_db"] == snr:
                picks[r["link"]] += 1
        cell = lambda d: f"{d[snr][0]:.2f}" if snr in d else "-"  # noqa: E731
        lines.append(f"| {snr:g} | {cell(learned)} | {cell(sscc)} | {best:.2f} | {psnr:.2f} | {psnr - best:+.2f} | "
                     f"{single:.2f} ({name}) | {psnr - single:+.2f} | "
                     + ", ".join(f"{k} x{n}" for k, n in sorted(picks.items())) + " |")
    return lines + [""]


def choice_table(rows, channel) -> list[str]:
    """Markdown lines, one per SNR: the best learned and the best conventional codec x link (best
    mean PSNR over the images), and what ``CODEC_AUTO`` sent most; empty without ``CODEC_AUTO`` rows."""
    auto = series(rows).get((channel, CODEC_AUTO))
    if not auto:
        return []
    singles = link_series([r for r in rows if r.get("family") in ENVELOPES])
    families = {r["codec"]: r.get("family") for r in rows}
    lines = ["| Es/N0 | best learned (mean PSNR dB) | best conventional (mean PSNR dB) | `--codec auto` sends |",
             "|---|---|---|---|"]
    for snr, (psnr, _) in auto.items():
        best = {}
        for (ch, codec, link), d in singles.items():
            family = families[codec]
            if ch == channel and snr in d and d[snr][0] > best.get(family, (-np.inf,))[0]:
                best[family] = (d[snr][0], f"{codec} {link}")
        picks = defaultdict(int)
        for r in rows:
            if r["channel"] == channel and r["codec"] == CODEC_AUTO and r["snr_db"] == snr:
                picks[r["link"].replace("@", " ")] += 1
        cell = lambda f: f"{best[f][1]} ({best[f][0]:.2f})" if f in best else "-"  # noqa: E731
        sent = max(picks, key=picks.get) if picks else "-"
        lines.append(f"| {snr:g} dB | {cell(LEARNED)} | {cell(CONVENTIONAL)} | {sent} ({psnr:.2f}) |")
    return lines + [""]


def link_series(rows) -> dict:
    """{(channel, codec, link): {snr: (mean psnr, mean ms-ssim)}}: ``series`` per codec and link, no envelopes."""
    return {(channel, *name.split(" ", 1)): d for (channel, name), d in series(rows, per_link=True).items()
            if name not in ENVELOPES.values() and " " in name}


def switch_points(rows, channel) -> list[dict]:
    """Per SNR on ``channel``: the learned (codec, link) with the best mean PSNR over the images it
    sent (a tie goes to the later name), that PSNR, and on how many images it is the best learned row."""
    learned = [r for r in rows if r["channel"] == channel and r.get("family") == LEARNED
               and not np.isnan(r["psnr_db"])]
    per_link = link_series(learned)
    best_row = {}
    for r in learned:
        key = (r["snr_db"], r["image"])
        best_row[key] = max(best_row.get(key, -np.inf), r["psnr_db"])
    out = []
    for snr in sorted({r["snr_db"] for r in learned}):
        psnr, codec, link = max((d[snr][0], codec, link) for (_, codec, link), d in per_link.items() if snr in d)
        wins = {r["image"] for r in learned if r["snr_db"] == snr and r["codec"] == codec and r["link"] == link
                and r["psnr_db"] == best_row[(snr, r["image"])]}
        images = {r["image"] for r in learned if r["snr_db"] == snr}
        out.append({"snr_db": snr, "codec": codec, "link": link, "psnr_db": psnr, "best_on": len(wins),
                    "images": len(images)})
    return out


def envelope_table(rows, channel) -> list[str]:
    """Markdown lines: the learned envelope against the SSCC envelope on the images both sent, and
    the switch points (``switch_points``), with ``AUTO``'s pick where ``rows`` hold it."""
    summary, covered = series(rows), covered_images(rows)
    if (channel, LEARNED_ENVELOPE) not in summary:
        return []
    both = covered[(channel, LEARNED_ENVELOPE)] & (covered[(channel, ENVELOPE)] or covered[(channel, LEARNED_ENVELOPE)])
    same = series([r for r in rows if r["channel"] == channel and r["image"] in both])
    learned, sscc = same[(channel, LEARNED_ENVELOPE)], same.get((channel, ENVELOPE), {})
    picks = {r["snr_db"]: r["link"] for r in rows if r["channel"] == channel and r["codec"] == AUTO}
    auto = summary.get((channel, AUTO), {})
    versus = f"the SSCC envelope on the {len(both)} images both sent" if sscc else "the SSCC envelope (no " \
        "conventional codec was run)"
    lines = [f"**{channel}**: the learned envelope (best learned model x modulation per image and SNR) against "
             f"{versus}, and the switch points: the learned model@modulation with the best mean PSNR at each "
             f"SNR (best on: the images where it is the best learned row), and what `{AUTO}` picks from the "
             "cards' measured curves\n",
             "| SNR dB | learned envelope | SSCC envelope | learned - SSCC | switch point (best mean) | its PSNR "
             f"| best on | {AUTO} pick | its PSNR |", "|---" * 9 + "|"]
    points = {p["snr_db"]: p for p in switch_points(rows, channel)}
    for snr in sorted(learned):
        p = points[snr]
        pick = (f"{picks[snr]} | {auto[snr][0]:.2f}") if snr in picks else "- | -"
        versus = f"{sscc[snr][0]:.2f} | {learned[snr][0] - sscc[snr][0]:+.2f}" if snr in sscc else "- | -"
        lines.append(f"| {snr:g} | {learned[snr][0]:.2f} | {versus} | {p['codec']}@{p['link']} | {p['psnr_db']:.2f} "
                     f"| {p['best_on']}/{p['images']} | {pick} |")
    return lines + [""]


def card_curves(results: dict, channel: str = "awgn") -> dict:
    """From a semcom-eval results.json: per learned codec its card's ``measured`` section, mean
    PSNR per link (modulation) and SNR over the images it sent on ``channel``."""
    rows = [r for r in results["rows"] if r.get("family") == LEARNED and r["channel"] == channel]
    images = covered_images(rows)
    out = defaultdict(dict)
    for (_, codec, link), d in link_series(rows).items():
        out[codec][link] = {f"{snr:g}": round(float(p), 3) for snr, (p, _) in d.items()}
    return {codec: {"channel": channel, "cpp": float(results["cpp"]), "images": len(images[(channel, codec)]),
                    "source": "semcom-eval --per-link, mean PSNR dB per modulation and Es/N0 dB", "psnr_db": links}
            for codec, links in out.items()}


def findings(rows, learned) -> str:
    """Per channel: each learned codec's PSNR minus the SSCC envelope's at every SNR, on the images
    the codec could send, and every series' largest PSNR drop between neighbouring SNR points (a
    cliff shows up there); then the learned envelope and its switch points (``envelope_table``)."""
    summary, covered = series(rows), covered_images(rows)
    lines = []
    for channel in sorted({c for c, _ in summary}):
        env = summary.get((channel, ENVELOPE))
        names = [n for n in learned if (channel, n) in summary]
        if env and names:
            lines += gains_table(rows, channel, names + [LEARNED_ENVELOPE, ENVELOPE], summary, covered)
        lines += envelope_table(rows, channel)
        lines += auto_table(rows, channel)
    return "\n".join(lines)


def gains_table(rows, channel, names, summary, covered) -> list[str]:
    """Markdown lines of ``findings``' gains over the SSCC envelope on ``channel``, for ``names``."""
    snrs = sorted(summary[(channel, ENVELOPE)])
    lines = [f"**{channel}**: PSNR gain over the SSCC envelope on the same images (dB), and the largest "
             "drop between neighbouring SNR points\n", "| series | images | "
             + " | ".join(f"{s:g} dB" for s in snrs) + " | largest drop |", "|---" * (len(snrs) + 3) + "|"]
    for name in (n for n in names if (channel, n) in summary):
        d = summary[(channel, name)]
        images = covered[(channel, name)]
        same = series([r for r in rows if r["channel"] == channel and r["image"] in images])[(channel, ENVELOPE)]
        gains = [f"{d[s][0] - same[s][0]:+.2f}" if s in d and s in same else "-" for s in snrs]
        pts = [s for s in snrs if s in d]
        drop = max((d[a][0] - d[b][0] for a, b in zip(pts[1:], pts)), default=0.0)
        drop_at = next((f"{a:g} to {b:g} dB" for a, b in zip(pts[1:], pts) if d[a][0] - d[b][0] == drop), "")
        lines.append(f"| {name} | {len(images)} | " + " | ".join(gains) + f" | {max(drop, 0):.2f} dB ({drop_at}) |")
    return lines + [""]


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


METRICS = {"psnr_vs_snr.png": (0, "PSNR (dB)"), "ms_ssim_vs_snr.png": (1, "MS-SSIM")}  # file -> (index, axis)
ENVELOPE_STYLE = dict(lw=7, alpha=0.25, solid_capstyle="round", zorder=1)  # a band the lines inside it show through


def plot(summary, path, cpp, n_images, metric: int = 0, label: str = "PSNR (dB)"):
    """One panel per channel of ``summary``'s mean ``metric`` (0 PSNR, 1 MS-SSIM) against SNR; the
    envelopes as translucent bands under the codecs' lines, the legend beside the panels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    channels = sorted({c for c, _ in summary})
    most = max(sum(1 for c, _ in summary if c == channel) for channel in channels)
    columns = 1 if most <= 24 else 2
    fig, axes = plt.subplots(1, len(channels), figsize=((6.5 + 2.6 * columns) * len(channels), 4.5), squeeze=False)
    for ax, channel in zip(axes[0], channels):
        for (c, name), d in sorted(summary.items()):
            if c != channel:
                continue
            snrs = list(d)
            style = {ENVELOPE: dict(ENVELOPE_STYLE, color="k"), LEARNED_ENVELOPE: dict(ENVELOPE_STYLE, color="tab:red"),
                     CAPACITY: dict(ls="--", color="grey")}.get(name, dict(marker="o", ms=4, alpha=0.85, zorder=2))
            ax.plot(snrs, [d[s][metric] for s in snrs], label=name, **style)
        ax.set(title=f"{channel}, cpp {cpp:.4g}, {n_images} image(s)", xlabel="SNR Es/N0 (dB)", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=columns)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
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
    except (csv.Error, UnicodeDecodeError) as err:
        raise SemcomError(f"{path} is not a semcom-eval results.csv ({err})") from None
    for line, r in enumerate(rows, start=2):
        try:
            for key in ("snr_db", "psnr_db", "ms_ssim"):
                r[key] = float(r[key])
            for key in ("payload_bits", "channel_uses"):
                r[key] = int(r[key])
            if None in r or not all(isinstance(r[key], str) for key in ("codec", "link", "channel", "image")):
                raise ValueError("the row has the wrong number of columns")
            r["lost"] = r["lost"] == "True"
        except (KeyError, TypeError, ValueError) as err:
            raise SemcomError(f"{path} line {line} is not a semcom-eval results row ({type(err).__name__}: "
                              f"{err}); delete the file or fix the line") from None
        r.setdefault("family", REFERENCE if r["codec"] == CAPACITY else CONVENTIONAL)
    return rows


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows for points (codec, link, channel, image, SNR) the new sweep did not cover, then ``new``."""
    def key(r):
        return r["codec"], r["link"], r["channel"], r["image"], float(r["snr_db"])
    covered = {key(r) for r in new}
    return [r for r in old if key(r) not in covered] + list(new)
