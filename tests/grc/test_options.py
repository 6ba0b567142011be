"""The one option model: validation, argparse, and every GRC block's YAML against it."""
import argparse
import ast
import glob
import math
import os

import pytest

from plain import REPO, module

options = module("options")
SemcomError = module("errors").SemcomError
yaml = pytest.importorskip("yaml")

GRC = os.path.join(REPO, "grc")
# GRC parameter ids that name an option differently (per block, then for every block)
ALIASES = {
    "semcom_image_tx": {"fec_code": "fec"},
    "semcom_semantic_encoder": {"model": "codec"},
    "*": {"fec_code": "phy_fec", "snr_db": "snr", "delay": "timing_offset"},
}
# image_rx codec "": each frame names its own; the apps' --amplitude 0 means "by radio", the block's is a scale
# image_source's count and interval are its own (images to send, default 1 a second), not the apps'
NOT_OPTIONS = {("semcom_image_rx", "codec"), ("semcom_burst_tx", "amplitude"), ("semcom_burst_modulator", "amplitude"),
               ("semcom_image_source", "count"), ("semcom_image_source", "interval"),
               ("semcom_sim_channel", "snr_db"), ("semcom_air_channel", "snr_db")}


def grc_value(text):
    """A GRC default or option as Python would see it ('qpsk', 1/16, 0.99, bare words as strings)."""
    text = str(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return eval(text, {"__builtins__": {}})  # arithmetic such as 1/16
        except Exception:  # noqa: BLE001
            return text


def block_params():
    for path in sorted(glob.glob(os.path.join(GRC, "*.block.yml"))):
        block = yaml.safe_load(open(path))
        for param in block.get("parameters", []):
            name = ALIASES.get(block["id"], {}).get(param["id"]) or ALIASES["*"].get(param["id"], param["id"])
            if name in options.OPTIONS and (block["id"], param["id"]) not in NOT_OPTIONS:
                yield block["id"], param, options.OPTIONS[name]


def test_every_option_backed_grc_parameter_is_found():
    found = {(b, p["id"]) for b, p, _ in block_params()}
    # the blocks that carry the link must be checked; a renamed parameter would silently escape
    for expected in [("semcom_image_tx", "codec"), ("semcom_image_tx", "fec_code"), ("semcom_image_tx", "cpp"),
                     ("semcom_phy_tx", "fec_code"), ("semcom_phy_rx", "fec_code"), ("semcom_burst_tx", "fec_code"),
                     ("semcom_burst_rx", "threshold"), ("semcom_burst_rx", "frame_timeout"),
                     ("semcom_burst_tx", "burst_symbols"), ("semcom_air_channel", "cfo")]:
        assert expected in found


@pytest.mark.parametrize("block,param,option", list(block_params()),
                         ids=lambda v: v if isinstance(v, str) else getattr(v, "name", None) or v.get("id"))
def test_grc_yaml_matches_option_model(block, param, option):
    value = grc_value(param.get("default", ""))
    if isinstance(option.default, float):
        assert math.isclose(float(value), option.default), f"{block}.{param['id']} default {value} != {option.default}"
    else:
        assert value == option.default, f"{block}.{param['id']} default {value!r} != {option.default!r}"
    if "options" in param and option.choices is not None:
        assert {grc_value(o) for o in param["options"]} <= set(option.choices), f"{block}.{param['id']} options"


@pytest.mark.parametrize("name,value,expected", [
    ("cpp", "1/16", 1 / 16), ("cpp", 0.125, 0.125), ("snr", "-3", -3.0), ("burst_symbols", "512", 512),
    ("modulation", "16qam", "16qam"), ("timing_offset", 0, 0.0),
])
def test_check_converts_valid_values(name, value, expected):
    assert options.check(name, value) == expected


@pytest.mark.parametrize("name,value,fragment", [
    ("clock_ppm", "nan", "finite"), ("clock_ppm", float("inf"), "finite"), ("clock_ppm", -1e6, "[-1000, 1000]"),
    ("cpp", "0", "(0, 8]"), ("cpp", "1/0", "fraction"), ("snr", "abc", "a number"), ("timing_offset", 1.0, "[0, 1)"),
    ("threshold", 1.0, "(0, 1)"), ("frame_timeout", -1, "(0, 3600]"), ("burst_symbols", 70000, "[64, 32768]"),
    ("modulation", "8psk", "one of"), ("seed", -1, "in [0, 2147483647]"),
])
def test_check_names_the_option_and_the_rule(name, value, fragment):
    with pytest.raises(SemcomError) as err:
        options.check(name, value)
    assert str(err.value).startswith(options.OPTIONS[name].flag) and fragment in str(err.value)


def test_argparse_uses_the_model():
    p = argparse.ArgumentParser()
    for name in ("cpp", "fec", "clock_ppm"):
        options.add(p, name)
    args = p.parse_args(["--cpp", "1/8"])
    assert (args.cpp, args.fec, args.clock_ppm) == (0.125, options.default("fec"), 0.0)
    with pytest.raises(SystemExit):
        p.parse_args(["--clock-ppm", "nan"])
