"""GNU Radio blocks: thin adapters over the plain modules in ``phy`` and ``codecs``, one block per file,
each mirrored by ``grc/semcom_<block>.block.yml``.

* Images: ``image`` (image_source, semantic_encoder/decoder, image_tx/rx), ``display`` (Qt image sink),
  ``snr_display`` (Qt plot of the bursts' SNR estimates).
* The ideal synchronised PHY: ``phy_tx``, ``phy_rx``, its channel ``sim_channel``.
* The burst waveform, transmit (``burst_tx`` wires them)::

    bits PDU -> burst_segmenter -> fec.async_encoder (gr-fec LDPC; absent when uncoded)
             -> symbol_mapper (digital.constellation) -> burst_modulator -> samples

* The burst waveform, receive (``burst_rx`` wires them)::

    samples -> sample_limiter -> digital.corr_est_cc -> burst_sync --(one stream per modulation)--> multiply_const_cc
            -> digital.constellation_soft_decoder_cf -> burst_llr -> fec_decoder -> burst_reassembler
            -> frame LLR PDUs (for image_rx); burst_sync's last output: every burst's equalised
               symbols, for a QT GUI Constellation Sink; its message port llr: the LLR PDUs of
               the bursts its sequence detector demodulated (16-QAM through multipath), to fec_decoder

  ``burst_sync`` stays numpy (GNU Radio 3.10 has no burst-mode synchroniser); the soft decisions are
  gr-digital's, from a noise-free max-log table (``modem.install_stream_table``) that ``burst_llr``
  scales by each symbol's 1/N0. ``air_channel`` is the simulated radio; ``zmq_source`` a ZeroMQ
  source that survives any peer.
* Shared plumbing: ``pdu_block`` / ``pdu_io`` (PDUs), ``modem`` (bits <-> symbols), ``burst_common``
  (burst metadata and constants), ``compiled`` (the C++ blocks of lib/), ``stream_run``, ``malloc``.
"""
