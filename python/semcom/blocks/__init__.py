"""GNU Radio blocks: thin adapters over the plain modules in ``phy`` and ``codecs``.

One family per module: ``image`` (image source, encoder/decoder, image_tx/rx), ``phy_tx`` and
``phy_rx`` (the ideal synchronised PHY), ``burst`` (burst waveform and its channel), ``sim_channel``,
``display`` (Qt image sink); ``pdu_block`` / ``pdu_io`` are the PDU plumbing they share.
"""
