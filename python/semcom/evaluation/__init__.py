"""Codec comparison: sweeps over codecs x links x channels x SNR, tables, findings and plots."""
