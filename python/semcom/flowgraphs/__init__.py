"""Flowgraph owners: whole transmit/receive chains the apps and ``semcom-eval`` run.

``ideal`` (ideal synchronised channel), ``air`` (burst waveform over a simulated channel or a radio),
``radios`` (ZeroMQ, SigMF files, UHD, SoapySDR sources and sinks).
"""
