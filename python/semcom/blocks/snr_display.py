"""A Qt view of the SNR estimates of the last received bursts: a plot and the last value.

* ``SnrPlotWidget``: a plain PyQt5 widget; ``add(snr_db)`` from the GUI thread, ``post(snr_db)``
  from any thread (a queued Qt signal).
* ``snr_display``: the GNU Radio block (message input 'in': burst PDUs, as ``burst_llr`` emits
  them, metadata ``snr_db``) for GRC's QT GUI flowgraphs; its ``widget`` is an ``SnrPlotWidget``.

Both need a QApplication to exist before they are built.
"""
from __future__ import annotations

import collections
import math

import pmt
from gnuradio import gr
from PyQt5 import QtCore, QtGui, QtWidgets

from .display import IN

SNR_DB = pmt.intern("snr_db")


class SnrPlotWidget(QtWidgets.QWidget):
    """The last ``history`` SNR estimates (dB) as a line of points between ``low`` and ``high``
    (values outside are drawn at the edge), newest on the right, with the last value written
    above; thread safe through ``post``."""

    snr_posted = QtCore.pyqtSignal(float)

    def __init__(self, history: int = 32, low: float = -10.0, high: float = 65.0, parent=None):
        super().__init__(parent)
        self.values: collections.deque = collections.deque(maxlen=max(2, int(history)))
        self.low, self.high = float(low), float(high)
        self.setMinimumSize(240, 160)
        self.snr_posted.connect(self.add)

    def post(self, snr_db: float):
        """Adds an estimate from any thread."""
        self.snr_posted.emit(float(snr_db))

    @QtCore.pyqtSlot(float)
    def add(self, snr_db: float):
        """Adds an estimate now (GUI thread only)."""
        self.values.append(snr_db)
        self.update()

    @property
    def title_text(self) -> str:
        last = f"last {self.values[-1]:.1f} dB" if self.values else "waiting for a burst\u2026"
        return f"SNR estimate per burst (last {self.values.maxlen}): {last}"

    def paintEvent(self, event):
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.Antialiasing)
        painter.fillRect(self.rect(), self.palette().window())
        text_h = painter.fontMetrics().height()
        left = painter.fontMetrics().horizontalAdvance("-10 dB") + 8
        plot = QtCore.QRectF(left, text_h + 8, self.width() - left - 8, self.height() - text_h - 16)
        painter.drawText(QtCore.QRectF(0, 2, self.width(), text_h), QtCore.Qt.AlignCenter, self.title_text)
        painter.fillRect(plot, QtCore.Qt.white)
        span = self.high - self.low

        def y(value):
            return plot.bottom() - (min(max(value, self.low), self.high) - self.low) / span * plot.height()

        grid, text = QtGui.QPen(QtGui.QColor(200, 200, 200), 1, QtCore.Qt.DashLine), painter.pen()
        step = 10.0 if span <= 80 else 20.0
        tick = math.ceil(self.low / step) * step
        while tick <= self.high:
            painter.setPen(grid)
            painter.drawLine(QtCore.QPointF(plot.left(), y(tick)), QtCore.QPointF(plot.right(), y(tick)))
            painter.setPen(text)
            painter.drawText(QtCore.QRectF(0, y(tick) - text_h / 2, left - 4, text_h),
                             QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter, f"{tick:g} dB")
            tick += step
        if not self.values:
            return
        dx = plot.width() / (self.values.maxlen - 1)
        x0 = plot.right() - dx * (len(self.values) - 1)
        points = [QtCore.QPointF(x0 + i * dx, y(v)) for i, v in enumerate(self.values)]
        painter.setPen(QtGui.QPen(QtGui.QColor("blue"), 2))
        painter.drawPolyline(QtGui.QPolygonF(points))
        painter.setBrush(QtGui.QColor("blue"))
        for p in points:
            painter.drawEllipse(p, 3, 3)


class snr_display(gr.basic_block):
    """Message input 'in': burst PDUs (metadata ``snr_db``); shows the last bursts' SNR
    estimates in ``widget``. PDUs without a finite ``snr_db`` are counted in ``dropped``.

    Args:
        history: bursts shown.
        low, high: the plot's range, dB.
        parent: the widget's parent QWidget.
    """

    def __init__(self, history: int = 32, low: float = -10.0, high: float = 65.0, parent=None):
        gr.basic_block.__init__(self, name="semcom_snr_display", in_sig=None, out_sig=None)
        self.widget = SnrPlotWidget(history, low, high, parent)
        self.received = self.dropped = 0
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)

    def handle(self, msg):
        meta = pmt.car(msg) if pmt.is_pair(msg) else pmt.PMT_NIL
        value = pmt.dict_ref(meta, SNR_DB, pmt.PMT_NIL) if pmt.is_dict(meta) else pmt.PMT_NIL
        snr = pmt.to_double(value) if pmt.is_real(value) or pmt.is_integer(value) else math.nan
        if not math.isfinite(snr):
            self.dropped += 1
            return
        self.received += 1
        self.widget.post(snr)

    def qwidget(self):
        """The widget (already a PyQt5 object: no sip.wrapinstance needed)."""
        return self.widget
