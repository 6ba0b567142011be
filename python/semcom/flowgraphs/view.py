"""A Qt window over a running ``AirReceiver``: GNU Radio's QT GUI sinks and ``image_display``.

``ReceiverView(rx)`` connects, before ``rx`` starts: the radio's samples to a spectrum (freq
sink), every burst's equalised symbols to a constellation (const sink), each burst's SNR
estimate to ``snr_display`` (the last bursts), and the decoded images to
``image_display``. ``rx`` must be built with ``symbols=True``; a QApplication must exist first
(``application()``).
"""
from __future__ import annotations

import os

from gnuradio import fft, qtgui
from PyQt5 import QtWidgets, sip

from ..blocks.display import image_display
from ..blocks.snr_display import snr_display
from ..errors import SemcomError
from .air import AirReceiver

FFT_SIZE = 1024
SYMBOLS_SHOWN = 2048
SNR_HISTORY = 32  # bursts in the SNR plot
SNR_RANGE_DB = (-10.0, 65.0)  # a noise-free link estimates 60 dB
UPDATE_SECONDS = 0.2
WINDOW_SIZE = (1200, 800)
PLATFORMS_WITHOUT_SCREEN = ("offscreen", "minimal", "vnc")


def application() -> QtWidgets.QApplication:
    """The QApplication (made once); SemcomError when there is no display to show it on (Qt would abort)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not platform.startswith(PLATFORMS_WITHOUT_SCREEN):
        if platform.startswith("wayland"):
            shown = os.environ.get("WAYLAND_DISPLAY")
        else:
            shown = os.environ.get("DISPLAY") or (not platform and os.environ.get("WAYLAND_DISPLAY"))
        if not shown:
            raise SemcomError("--gui needs a display: DISPLAY is not set (run it in a desktop session or "
                              "with ssh -X, or draw off-screen with QT_QPA_PLATFORM=offscreen)")
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(["semcom"])


def _widget(sink) -> QtWidgets.QWidget:
    return sip.wrapinstance(sink.qwidget(), QtWidgets.QWidget)


class ReceiverView:
    """The window (``window``) of a receiver's spectrum, symbols, SNR per burst and last image."""

    def __init__(self, rx: AirReceiver, title: str = "gr-semcom receiver"):
        cfg = rx.source.cfg
        self.spectrum = qtgui.freq_sink_c(FFT_SIZE, fft.window.WIN_BLACKMAN_hARRIS, float(cfg.freq or 0.0),
                                          float(cfg.rate), "Spectrum", 1)
        self.symbols = qtgui.const_sink_c(SYMBOLS_SHOWN, "Equalised symbols", 1)
        self.snr = snr_display(SNR_HISTORY, *SNR_RANGE_DB)
        self.image = image_display("Last received image")
        for sink in (self.spectrum, self.symbols):
            sink.set_update_time(UPDATE_SECONDS)
        rx.tb.connect(rx.source, self.spectrum)
        rx.tb.connect(rx.bursts, self.symbols)
        rx.tb.msg_connect(rx.bursts, "bursts", self.snr, "in")
        rx.tb.msg_connect(rx.image, "out", self.image, "in")
        self.window = QtWidgets.QWidget()
        self.window.setWindowTitle(title)
        grid = QtWidgets.QGridLayout(self.window)
        grid.addWidget(_widget(self.spectrum), 0, 0)
        grid.addWidget(_widget(self.symbols), 0, 1)
        grid.addWidget(self.snr.qwidget(), 1, 0)
        grid.addWidget(self.image.qwidget(), 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 3)
        self.window.resize(*WINDOW_SIZE)

    def show(self):
        self.window.show()

    @property
    def closed(self) -> bool:
        """Whether the user closed the window."""
        return not self.window.isVisible()
