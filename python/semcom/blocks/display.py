"""A Qt view of received images: the latest image PDU, scaled to fit, with a caption.

* ``ImageDisplayWidget``: a plain PyQt5 widget, usable without GNU Radio's
  scheduler: ``show_image(image, meta)`` from the GUI thread, or ``post(image,
  meta)`` / ``post_pdu(pdu)`` from any thread (a queued Qt signal hands the
  image to the GUI thread).
* ``image_display``: the GNU Radio block (message input 'in', no stream
  ports) for GRC's QT GUI flowgraphs; its ``widget`` is an
  ``ImageDisplayWidget``. Image PDUs are what ``image_rx`` emits: uint8 RGB,
  flattened, metadata height and width.

Both need a QApplication to exist before they are built (GRC's generated
QT GUI programs make one first).
"""
from __future__ import annotations

import math

import numpy as np
import pmt
from gnuradio import gr
from PyQt5 import QtCore, QtGui, QtWidgets

from .pdu_io import split_pdu
from ..phy.framing import HEIGHT, WIDTH

IN = pmt.intern("in")


def caption(meta: dict | None) -> str:
    """One line describing an image PDU's metadata: frame, codec/model, SNR estimate, bursts lost,
    lost flag; fields that are absent are left out."""
    meta = meta or {}
    parts = []
    if "frame" in meta:
        parts.append(f"frame {_int(meta['frame'])}")
    codec, model = meta.get("codec"), meta.get("model")
    if model and codec and str(model) != str(codec):
        parts.append(f"{codec} ({model})")
    elif model or codec:
        parts.append(str(model or codec))
    snr = _float(meta.get("snr_est_db"))
    if snr is not None and math.isfinite(snr):
        parts.append(f"SNR est {snr:.1f} dB")
    if "bursts_lost" in meta:
        lost = f"bursts lost {_int(meta['bursts_lost'])}"
        if "bursts" in meta:
            lost += f"/{_int(meta['bursts'])}"
        parts.append(lost)
    if "lost" in meta:
        if bool(meta["lost"]):
            reason = str(meta.get("reason") or "").strip()
            parts.append("LOST" + (f" ({reason})" if reason else ""))
        else:
            parts.append("ok")
    return " \u00b7 ".join(parts)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return value


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_qimage(image: np.ndarray) -> QtGui.QImage:
    """An H x W x 3 uint8 RGB array (or H x W grey) as a QImage that owns a copy of the pixels."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {image.shape}")
    image = np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)
    h, w = image.shape[:2]
    qimage = QtGui.QImage(image.data, w, h, 3 * w, QtGui.QImage.Format_RGB888)
    return qimage.copy()  # detach from the numpy buffer


class _FitLabel(QtWidgets.QLabel):
    """A QLabel that shows its pixmap scaled to fit (aspect ratio kept) and rescales on resize."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source: QtGui.QPixmap | None = None
        self.setAlignment(QtCore.Qt.AlignCenter)
        # The pixmap must not drive the layout (it would grow with every rescale).
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Ignored)
        self.setMinimumSize(64, 48)
        self.setText("waiting for an image\u2026")

    def set_source(self, pixmap: QtGui.QPixmap):
        self.source = pixmap
        self._rescale()

    def sizeHint(self):
        if self.source is None:
            return QtCore.QSize(320, 240)
        return self.source.size().boundedTo(QtCore.QSize(768, 768))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self):
        if self.source is None or self.source.isNull():
            return
        size = self.contentsRect().size()
        if size.width() < 1 or size.height() < 1:
            return
        self.setPixmap(self.source.scaled(size, QtCore.Qt.KeepAspectRatio, QtCore.Qt.SmoothTransformation))


class ImageDisplayWidget(QtWidgets.QWidget):
    """Shows the latest image with a caption line; thread safe through ``post``.

    Args:
        title: a line above the image (hidden when empty).
        parent: the parent QWidget.
    """

    image_posted = QtCore.pyqtSignal(object, object)  # (H x W x 3 uint8 array, metadata dict)

    def __init__(self, title: str = "", parent=None):
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.title = QtWidgets.QLabel(str(title or ""), self)
        self.title.setAlignment(QtCore.Qt.AlignCenter)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setVisible(bool(title))
        self.label = _FitLabel(self)
        self.caption = QtWidgets.QLabel("", self)
        self.caption.setAlignment(QtCore.Qt.AlignCenter)
        self.caption.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.caption)
        self.images_shown = 0
        self.meta: dict = {}
        # The widget lives in the GUI thread: a signal emitted from another thread is queued to it.
        self.image_posted.connect(self.show_image)

    def post(self, image: np.ndarray, meta: dict | None = None):
        """Shows ``image`` from any thread (the work happens in the GUI thread's event loop)."""
        self.image_posted.emit(np.array(image, dtype=np.uint8, copy=True), dict(meta or {}))

    def post_pdu(self, pdu):
        """Shows an image PDU (uint8 RGB, metadata height and width) from any thread;
        raises ValueError when it is not one."""
        meta, image = pdu_image(pdu)
        self.post(image, meta)

    @QtCore.pyqtSlot(object, object)
    def show_image(self, image: np.ndarray, meta: dict | None = None):
        """Shows ``image`` now (GUI thread only)."""
        self.label.set_source(QtGui.QPixmap.fromImage(to_qimage(image)))
        self.meta = dict(meta or {})
        text = caption(self.meta)
        self.caption.setText(text)
        self.caption.setVisible(bool(text))
        self.label.setToolTip(text)
        self.images_shown += 1

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the image shown, unscaled; None before the first."""
        src = self.label.source
        return None if src is None else (src.width(), src.height())

    @property
    def caption_text(self) -> str:
        return self.caption.text()


def pdu_image(pdu) -> tuple[dict, np.ndarray]:
    """(metadata, H x W x 3 uint8 image) from an image PDU; ValueError when it is not one."""
    meta, data = split_pdu(pdu, np.uint8)
    try:
        h, w = int(meta[HEIGHT]), int(meta[WIDTH])
    except (KeyError, TypeError, ValueError, OverflowError):
        raise ValueError("image PDU metadata lacks integer height and width") from None
    if h <= 0 or w <= 0 or data.size != h * w * 3:
        raise ValueError(f"image PDU has {data.size} bytes, metadata says {h}x{w}x3")
    return meta, data.reshape(h, w, 3)


class image_display(gr.basic_block):
    """Message input 'in': image PDUs (as ``image_rx`` emits); shows the latest in ``widget``.

    Args:
        title: a line above the image (empty: none).
        parent: the widget's parent QWidget.
    """

    def __init__(self, title: str = "", parent=None):
        gr.basic_block.__init__(self, name="semcom_image_display", in_sig=None, out_sig=None)
        self.widget = ImageDisplayWidget(title, parent)
        self.received = self.dropped = 0
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)

    def handle(self, msg):
        try:
            meta, image = pdu_image(msg)
        except ValueError as err:
            self.dropped += 1
            self.logger.warn(f"dropped a message: {err}")
            return
        self.received += 1
        self.widget.post(image, meta)

    def qwidget(self):
        """The widget (already a PyQt5 object: no sip.wrapinstance needed)."""
        return self.widget
