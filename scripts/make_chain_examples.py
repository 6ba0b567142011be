#!/usr/bin/env python3
"""Writes examples/air_chain.grc and air_chain_gui.grc (every burst stage its own block),
air_chain_alist.grc (the same with a user LDPC code from an alist file at both ends), and gives
air_loopback_gui.grc its constellation display. Run with the venv's Python after `make install`:

  .venv/bin/python scripts/make_chain_examples.py
"""
import os

import yaml
from gnuradio import digital
from gnuradio.semcom.blocks.burst_common import preamble_period
from gnuradio.semcom.blocks import modem

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples") + os.sep
PREAMBLE = "[" + ", ".join(f"{c.real:.6f}{c.imag:+.6f}j" for c in preamble_period("sc")) + "]"
SCALE = f"{modem.install_stream_table(digital.constellation_16qam()):.6f}"
USER_ALIST = "/usr/share/gnuradio/fec/ldpc/n_0300_k_0152_gap_03.alist"  # not a named code; gap 3

def block(name, bid, params, coord, state="enabled"):
    p = {"affinity": "", "alias": "", "comment": "", "maxoutbuf": "0", "minoutbuf": "0"}
    if bid.startswith("variable") or bid in ("parameter", "import"):
        p = {"comment": ""}
    p.update(params)
    return {"name": name, "id": bid, "parameters": p,
            "states": {"bus_sink": False, "bus_source": False, "bus_structure": None,
                       "coordinate": list(coord), "rotation": 0, "state": state}}

def param(name, label, value, kind, coord):
    return block(name, "parameter", {"alias": "", "hide": "none", "label": label, "short_id": "",
                                     "type": kind, "value": value}, coord)

def chain(gui, alist=False):
    gid = "air_chain_alist" if alist else "air_chain_gui" if gui else "air_chain"
    options = {"parameters": {
        "author": "gr-semcom", "catch_exceptions": "True", "category": "[GRC Hier Blocks]", "cmake_opt": "",
        "comment": "", "copyright": "",
        "description": "An image (SSCC) through every stage of the burst chain as its own block: "
                       "gr-fec LDPC encoding, GNU Radio's own 16-QAM constellation object, the "
                       "simulated radio, the sample limiter, corr_est_cc, the synchroniser, the stock soft decoder, "
                       "LDPC decoding and reassembly. GNU Radio's 16-QAM object is not Gray labelled "
                       "(uncoded BER 12.8 % at 10 dB, Gray 5.9 %, measured): the default is 15 dB.",
        "gen_cmake": "On", "gen_linking": "dynamic", "generate_options": "qt_gui" if gui else "no_gui",
        "hier_block_src_path": ".:", "id": gid, "max_nouts": "0", "output_language": "python",
        "placement": "(0,0)", "qt_qss_theme": "", "realtime_scheduling": "", "run": "True",
        "run_command": "{python} -u {filename}", "run_options": "prompt" if gui else "run",
        "sizing_mode": "fixed", "thread_safe_setters": "",
        "title": "Semcom burst chain, stage by stage" + (" (constellation and image)" if gui else ""),
        "window_size": "(1000,1000)"},
        "states": {"bus_sink": False, "bus_source": False, "bus_structure": None, "coordinate": [8, 8],
                   "rotation": 0, "state": "enabled"}}
    blocks = [
        param("image", "Image file", "images/kodim23.png", "str", (200, 8)),
        param("output_dir", "Output folder", "rx_images", "str", (320, 8)),
        param("waveform", "Waveform (sc or ofdm)", "sc", "str", (456, 8)),
        param("snr_db", "SNR Es/N0 (dB)", "15", "eng_float", (592, 8)),
        param("cfo", "CFO (cycles/sample)", "0.002", "eng_float", (744, 8)),
        param("delay", "Timing offset (samples)", "0.37", "eng_float", (896, 8)),
        block("const", "variable_constellation", {
            "const_points": "[-1-1j, -1+1j, 1+1j, 1-1j]", "dims": "1", "normalization":
            "digital.constellation.AMPLITUDE_NORMALIZATION", "precision": "8", "rot_sym": "4",
            "soft_dec_lut": "None", "sym_map": "[0, 1, 3, 2]", "type": "16qam"}, (8, 100)),
        block("ldpc_H", "variable_ldpc_H_matrix_def", {
            "filename": "'/usr/share/gnuradio/fec/ldpc/n_1800_k_0902_gap_28.alist'", "gap": "28",
            "value": '"ok"'}, (200, 100)),
        block("ldpc_encoder", "variable_ldpc_encoder_H_def", {
            "H": "ldpc_H", "dim1": "1", "dim2": "1", "ndim": "0", "value": '"ok"'}, (400, 100)),
        block("src", "semcom_image_source", {"count": "1", "interval": "1.0", "path": "image"}, (8, 220)),
        block("enc", "semcom_image_tx", {"codec": "sscc", "cpp": "1/16", "fec_code": "'ldpc-1/2'",
                                         "modulation": "'16qam'"}, (200, 220)),
        block("segmenter", "semcom_burst_segmenter", {"burst_symbols": "4096", "fec_code": "ldpc-1/2",
                                                      "modulation": "16qam", "waveform": "waveform"}, (400, 220)),
        block("fec_enc", "fec_async_encoder", {"encoder": "ldpc_encoder", "mtu": "1048576", "packed": "False",
                                               "rev_pack": "False", "rev_unpack": "False"}, (620, 220)),
        block("mapper", "semcom_symbol_mapper", {"constellation": "const"}, (840, 220)),
        block("modulator", "semcom_burst_modulator", {"amplitude": "1.0", "waveform": "waveform"}, (1040, 220)),
        block("chan", "semcom_air_channel", {"cfo": "cfo", "clock_ppm": "0", "delay": "delay", "doppler": "1e-5",
                                             "rayleigh": "'False'", "seed": "0", "snr_db": "snr_db",
                                             "taps": "[1.0]"}, (8, 380)),
        block("limiter", "semcom_sample_limiter", {"floor": "0.05", "hold": "1048576", "limit": "16.0"},
              (120, 480)),
        block("detector", "digital_corr_est_cc", {
            "comment": "symbols: semcom.preamble_period(waveform)", "mark_delay": "0", "sps": "2.0",
            "symbols": PREAMBLE,
            "threshold": "0.99", "threshold_method": "digital.THRESHOLD_DYNAMIC"}, (240, 380)),
        block("sync", "semcom_burst_sync", {"frame_timeout": "2.0", "modulations": "['16qam']",
                                            "waveform": "waveform"}, (480, 380)),
        block("scale", "blocks_multiply_const_vxx", {"comment": "1 / (outermost 16-QAM coordinate + 6)",
                                                     "const": SCALE,
                                                     "type": "complex", "vlen": "1"}, (700, 380)),
        block("soft", "digital_constellation_soft_decoder_cf", {"constellation": "const"}, (900, 380)),
        block("llr", "semcom_burst_llr", {"constellation": "const", "modulation": "16qam"}, (1120, 380)),
        block("fec_dec", "semcom_fec_decoder", {"backend": "minsum", "max_iterations": "50"}, (1120, 480)),
        block("reassembler", "semcom_burst_reassembler", {}, (900, 480)),
        block("dec", "semcom_image_rx", {"codec": "''", "output_dir": "output_dir"}, (700, 480)),
    ]
    conns = [["src", "out", "enc", "in"], ["enc", "out", "segmenter", "in"], ["segmenter", "out", "fec_enc", "in"],
             ["fec_enc", "out", "mapper", "in"], ["mapper", "out", "modulator", "in"],
             ["modulator", "0", "chan", "0"], ["chan", "0", "limiter", "0"],
             ["limiter", "0", "detector", "0"], ["detector", "0", "sync", "0"],
             ["sync", "0", "scale", "0"], ["scale", "0", "soft", "0"], ["soft", "0", "llr", "0"],
             ["llr", "out", "fec_dec", "in"], ["fec_dec", "out", "reassembler", "in"],
             ["sync", "expire", "reassembler", "expire"], ["reassembler", "out", "dec", "in"]]
    if gui:
        blocks.append(block("display", "semcom_image_display", {"gui_hint": "0,1,1,1",
                                                                "title": "'Received image'"}, (700, 580)))
        blocks.append(constellation_sink((480, 580)))
        conns += [["dec", "out", "display", "in"], ["sync", "1", "symbols", "0"]]
    else:
        blocks.append(block("display_sink", "blocks_null_sink", {"bus_structure_sink": "[[0,],]", "num_inputs": "1",
                                                                 "type": "complex", "vlen": "1"}, (700, 580)))
        conns += [["sync", "1", "display_sink", "0"]]
    if alist:
        user_code(options, blocks)
    return {"options": options, "blocks": blocks, "connections": conns,
            "metadata": {"file_format": 1, "grc_version": "3.10.5.1"}}

def user_code(options, blocks):
    """The alist variant: both ends given one alist file; gr-fec's encoder and decoder definitions."""
    options["parameters"].update({
        "title": "Semcom burst chain with a user LDPC code (alist)",
        "description": "air_chain with a user LDPC code from an alist file at both ends: the segmenter's "
                       "FEC 'alist:FILE' (the burst header carries 128 + a 7-bit hash of the code), gr-fec's "
                       "LDPC encoder definition from the file and its gap, the synchroniser and the FEC decoder "
                       "given the same file, decoding with gr-fec's LDPC decoder definition. A receiver not "
                       "given the file drops these bursts (counted)."})
    named = {b["name"]: b for b in blocks}
    blocks[6:6] = [param("alist", "LDPC alist file", USER_ALIST, "str", (1040, 8)),
                   param("alist_gap", "Its gap (gr-fec encoder)", "3", "intx", (1200, 8)),
                   block("ldpc_decoder", "variable_ldpc_decoder_def", {
                       "dim1": "1", "dim2": "1", "file": "alist", "max_iter": "50", "ndim": "0", "sigma": "0.5",
                       "value": '"ok"'}, (600, 100))]
    named["ldpc_H"]["parameters"].update({"filename": "alist", "gap": "alist_gap"})
    named["enc"]["parameters"]["fec_code"] = "'alist:' + alist"
    named["segmenter"]["parameters"]["fec_code"] = "'alist:' + alist"
    named["sync"]["parameters"]["alist"] = "alist"
    named["fec_dec"]["parameters"].update({"backend": "gnuradio", "alist": "alist", "decoder": "ldpc_decoder"})

def constellation_sink(coord):
    p = {"alpha%d" % i: "1.0" for i in range(1, 11)}
    p.update({"color%d" % i: c for i, c in enumerate(
        ['"blue"', '"red"', '"green"', '"black"', '"cyan"', '"magenta"', '"yellow"', '"dark red"',
         '"dark green"', '"dark blue"'], 1)})
    p.update({"label%d" % i: "''" for i in range(1, 11)})
    p.update({"marker%d" % i: "0" for i in range(1, 11)})
    p.update({"style%d" % i: "0" for i in range(1, 11)})
    p.update({"width%d" % i: "1" for i in range(1, 11)})
    p.update({"autoscale": "False", "axislabels": "True", "grid": "True", "gui_hint": "1,0,1,1",
              "legend": "False", "name": "'Equalised symbols'", "nconnections": "1", "size": "1024",
              "tr_chan": "0", "tr_level": "0.0", "tr_mode": "qtgui.TRIG_MODE_FREE", "tr_slope": "qtgui.TRIG_SLOPE_POS",
              "tr_tag": '""', "type": "complex", "update_time": "0.10", "xmax": "1.5", "xmin": "-1.5",
              "ymax": "1.5", "ymin": "-1.5"})
    return block("symbols", "qtgui_const_sink_x", p, coord)

for gui, alist in ((False, False), (True, False), (False, True)):
    g = chain(gui, alist)
    with open(ROOT + g["options"]["parameters"]["id"] + ".grc", "w") as f:
        yaml.safe_dump(g, f, sort_keys=False, default_flow_style=None, width=120)

# air_loopback_gui: burst_rx's symbols output into a constellation sink
path = ROOT + "air_loopback_gui.grc"
g = yaml.safe_load(open(path))
for b in g["blocks"]:
    if b["id"] == "semcom_burst_rx":
        b["parameters"].update({"symbols_output": "True", "ldpc_backend": "minsum", "constellation": "None"})
if not any(b["id"] == "qtgui_const_sink_x" for b in g["blocks"]):
    g["blocks"].append(constellation_sink((744, 560)))
    g["connections"].append(["burst_rx", "0", "symbols", "0"])
yaml.safe_dump(g, open(path, "w"), sort_keys=False, default_flow_style=None, width=120)
