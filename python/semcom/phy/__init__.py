"""Physical-layer logic in plain numpy: constellations, exact LLRs, LDPC, channels.

Nothing here imports GNU Radio or torch, so it is testable without a flowgraph;
the GNU Radio blocks in ``gnuradio.semcom`` are thin adapters over it.
"""
