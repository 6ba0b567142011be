"""Image PDU blocks: image -> codec bits (transmit side) and LLRs -> image (receive side)."""
from __future__ import annotations

import hashlib
import json
import os
import queue
import threading

import numpy as np
import pmt
from gnuradio import gr

from .. import codecs
from ..pipeline import Stage
from . import malloc, modem
from ..codecs import registry
from ..codecs.base import Received
from ..errors import SemcomError
from ..options import check, default as opt, image_size
from .pdu_block import DONE, IN, OUT, SYSTEM, pdu_block
from .pdu_io import make_pdu
from ..phy import framing
from ..phy.link import LinkConfig, channel_use_budget
from ..phy.framing import CODEC, CODEC_ID, HEIGHT, LOST, REASON, WIDTH


RECEIVED_KEPT = 64  # images image_rx.received holds for a reader
STALE = "stale (a newer frame waits)"  # image_rx keep_up: the drop reason of a frame left undecoded
DECODE_QUEUE = 2  # frames waiting for image_rx's decode workers; beyond that its message handler waits


def image_pdu(image: np.ndarray, meta: dict | None = None):
    h, w = image.shape[:2]
    return make_pdu({**(meta or {}), HEIGHT: h, WIDTH: w}, image.reshape(-1).astype(np.uint8))


class image_tx(pdu_block):
    """Image PDU (uint8 RGB, metadata height/width) or an image file path (a PMT symbol) in,
    payload bits PDU out.

    Args:
        codec: registry name (see ``semcom-eval --list-codecs``), a model folder or a Codec.
        modulation, fec_code: the link the bit budget is computed for; an empty ``fec_code``
            means the codec's own choice (LDPC 1/2 for SSCC, none for learned codecs); 'alist:FILE'
            a user LDPC code from any alist file.
        cpp: channel uses per pixel (complex symbols per H*W).
    """

    in_dtype = np.uint8

    def __init__(self, codec=opt("codec"), modulation=opt("modulation"), fec_code=opt("fec"), cpp=opt("cpp")):
        pdu_block.__init__(self, "semcom_image_tx")
        modulation, fec_code = modem.resolve(modulation)[1], check("fec", fec_code)
        self.cpp = check("cpp", cpp)
        self.codec = registry.resolve(codec)
        self.link = LinkConfig(modulation, fec_code or self.codec.default_fec)
        self.frame = 0
        self._last = (None, None)  # (image digest, Encoded): resending an image skips re-encoding

    def handle(self, msg):
        if not pmt.is_symbol(msg):
            return pdu_block.handle(self, msg)
        from ..imageio import load_image
        path = pmt.symbol_to_string(msg)
        try:
            pdu = self.encode(load_image(path), {"path": path})  # a FIFO or device is refused, never read
        except Exception as err:  # noqa: BLE001 (this file only: the block keeps working)
            self._drop("unreadable image file", err)
            return
        self.message_port_pub(OUT, pdu)

    def process(self, meta, data):
        h, w = int(meta[HEIGHT]), int(meta[WIDTH])
        if data.size != h * w * 3:
            raise ValueError(f"image PDU has {data.size} bytes, metadata says {h}x{w}x3")
        return [self.encode(data.reshape(h, w, 3), meta)]

    def encode(self, image: np.ndarray, meta: dict | None = None):
        """Encodes one image; returns the bits PDU (also what ``send`` publishes)."""
        h, w = image.shape[:2]
        image_size(h, w, "image")  # what a burst header carries
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest() + bytes(
            f"{image.shape} {self.codec.name} {self.link.describe()}", "ascii")
        if self._last[0] == digest:
            enc = self._last[1]
        else:
            enc = self.codec.encode(image, self.link, channel_use_budget(self.cpp, h, w))
            self._last = (digest, enc)
        out_meta = {CODEC_ID: self.codec.codec_id, **(meta or {}), **enc.meta, CODEC: self.codec.name,
                    framing.FRAME: self.frame, HEIGHT: h, WIDTH: w, framing.PAYLOAD_BITS: len(enc.bits)}
        self.frame += 1
        return make_pdu(out_meta, enc.bits.astype(np.uint8))

    def send(self, image: np.ndarray, meta: dict | None = None):
        """Encodes ``image`` and publishes it (raises SemcomError if it cannot be encoded)."""
        self.message_port_pub(OUT, self.encode(image, meta))


class image_rx(pdu_block):
    """Payload LLR PDU in, image PDU out (metadata: codec, lost, reason, height, width).

    A lost image (FEC or codec failure) is replaced by the codec's placeholder. A frame the codec
    cannot take (wrong length, another model) is logged and dropped.

    Args:
        output_dir: when set, every image is written there (atomically) with a JSON record.
        codec: decode every frame with this codec (registry name, model folder or Codec); empty:
            the codec the frame names.
        max_pixels: frames announcing a larger image are dropped before decoding.
        keep_up: live frames: the handler never waits for the decoder; a frame it cannot decode in
            time is dropped undecoded (counted as stale), so that a receiver slower than the frames
            shows the newest: with workers, the oldest frame in a full decode queue makes room for
            the new one; without, a frame is dropped when a newer one already waits.
        workers: 0 decodes in the message handler; N > 0 in N worker threads fed through a queue of
            ``DECODE_QUEUE`` frames (images still come out in order); while it is full the handler
            waits (unless ``keep_up``), and ``congested`` tells a stream stage upstream to wait too
            (``burst_rx.hold_while``).
    """

    in_dtype = np.float32

    def __init__(self, output_dir: str = "", codec: str = "", max_pixels: int = opt("max_pixels"),
                 keep_up: bool = False, workers: int = 0):
        pdu_block.__init__(self, "semcom_image_rx")
        self.max_pixels = check("max_pixels", max_pixels)
        self.keep_up = bool(keep_up)
        self.write_failures = 0
        malloc.limit_arenas()  # flat memory when running for days
        self.output_dir = output_dir
        # for apps that wait on images; bounded, oldest dropped, so a flowgraph nobody reads keeps flat memory
        self.received: "queue.Queue[tuple[dict, np.ndarray]]" = queue.Queue(maxsize=RECEIVED_KEPT)
        self._codecs = {}
        self.fixed = registry.resolve(codec) if codec else None
        self.count = 0  # images out so far; names the files (frame numbers restart with a transmitter)
        self.stage = Stage(self._decode, self._publish, lambda frame, err: self.reject(err), DECODE_QUEUE,
                           int(workers), "semcom_decode") if workers else None

    def codec(self, name: str):
        if name not in self._codecs:
            try:
                self._codecs[name] = codecs.get(name)
            except SemcomError as err:
                raise ValueError(str(err)) from None
        return self._codecs[name]

    def warm_up(self, name: str) -> None:
        """Builds codec ``name`` (unless the codec is fixed) and opens its learned decoders now,
        so that the first frame does not wait for them."""
        try:
            codec = self.fixed or self.codec(name)
        except ValueError as err:
            raise SemcomError(str(err)) from None
        models = getattr(codec, "models", None) or {codec.name: getattr(codec, "model", None)}
        for model in models.values():
            if hasattr(model, "session"):
                model.session("decoder")

    def process(self, meta, llrs):
        h, w = int(meta[HEIGHT]), int(meta[WIDTH])
        if not (1 <= h and 1 <= w and h * w <= self.max_pixels):
            raise ValueError(f"frame announces a {w}x{h} image; this receiver takes 1 to {self.max_pixels} "
                             "pixels (max_pixels)")
        if self.keep_up and self.stage is None and self.to_basic_block().nmsgs(IN):
            self._drop_stale(meta)
            return []
        frame = (self.fixed or self.codec(str(meta[CODEC])), meta, llrs)
        if self.stage is None:
            return [self._output(meta, self._decode(frame))]
        if not self.keep_up:
            self.stage.put(frame)  # waits while the workers are behind
        else:
            stale = self.stage.put_newest(frame)
            if stale is not None:
                self._drop_stale(stale[1])
        return []

    def _drop_stale(self, meta):
        self._drop(STALE, ValueError(f"frame {meta.get(framing.FRAME)}: a newer frame waits"))

    @staticmethod
    def _decode(frame):
        codec, meta, llrs = frame
        return codec.decode(Received(bits=(llrs > 0).astype(np.uint8), llrs=llrs,
                                     fec_ok=bool(meta.get(framing.FEC_OK, True)), meta=meta))

    def _publish(self, frame, dec):
        self.message_port_pub(OUT, self._output(frame[1], dec))

    def _output(self, meta, dec):
        """Writes and queues the decoded image; its PDU."""
        meta.update({LOST: dec.lost, REASON: dec.reason})
        if dec.lost:
            self.logger.warn(f"frame {meta.get(framing.FRAME)}: image lost ({dec.reason}); wrote placeholder")
        if self.output_dir:
            try:
                self.write(meta, dec.image)
            except (OSError, SemcomError) as err:  # disk full, read-only: say so; the image still goes out
                self.write_failures += 1
                self.logger.error(f"cannot write image {self.count}: {getattr(err, 'strerror', None) or err}")
        self.count += 1
        while True:
            try:
                self.received.put_nowait((meta, dec.image))
                break
            except queue.Full:
                try:
                    self.received.get_nowait()
                except queue.Empty:
                    pass
        return image_pdu(dec.image, meta)

    @property
    def congested(self) -> bool:
        """The decode queue is full and frames wait behind it: upstream should wait."""
        return self.stage is not None and self.stage.full and self.to_basic_block().nmsgs(IN) > 0

    @property
    def activity(self) -> tuple[int, bool]:
        handled, busy = pdu_block.activity.fget(self)
        return handled, busy or (self.stage is not None and self.stage.backlog > 0)

    def drain(self) -> int:
        count = pdu_block.drain(self)
        if self.stage is not None:
            self.stage.join()
        return count

    def end_of_stream(self):
        if self.stage is not None:
            self.stage.join()

    def write(self, meta: dict, image: np.ndarray):
        """The PNG, then its JSON record, each atomically; on failure neither stays, nor a temp file."""
        from ..imageio import save_image
        stem = os.path.join(self.output_dir, f"frame{self.count:06d}")
        record = {k: v for k, v in meta.items() if isinstance(v, (int, float, str, bool))}
        tmp = stem + ".json.tmp"
        try:
            save_image(stem + ".png", image)
            with open(tmp, "w") as f:
                json.dump(record, f, indent=1)
            os.replace(tmp, stem + ".json")
        except (OSError, SemcomError):
            for path in (tmp, stem + ".png"):
                try:
                    os.unlink(path)
                except OSError:
                    pass
            raise


def learned_codec(model: str, hard: bool = False):
    """A learned codec by registry name or model folder, with a soft or hard-decision receiver."""
    name = model[:-len("-hard")] if model.endswith("-hard") else model
    if os.path.isfile(os.path.join(name, "encoder.onnx")):
        codec = codecs.get(name, hard=hard)
    else:
        codec = codecs.get(name + ("-hard" if hard else ""))
    if not getattr(codec, "learned", codec.default_fec == "none"):
        raise SemcomError(f"'{model}' is a conventional codec, not a learned model; use Semcom Image Encoder/Decoder")
    return codec


class semantic_encoder(image_tx):
    """Image PDU or file path in, the learned encoder's bits PDU out (ONNX Runtime).

    Bits per image come from the model card; the frame names the model and its fingerprint.

    Args:
        model: registry name (``bitsemcom`` picks the largest BitSemCom model that fits) or a model folder.
        modulation, cpp: the budget the bits must fit (uncoded; a masked VQ-VAE: under its LDPC 1/2).
    """

    def __init__(self, model=opt("codec"), modulation=opt("modulation"), cpp=opt("cpp")):
        codec = learned_codec(model)
        image_tx.__init__(self, codec, modulation, codec.default_fec, cpp)  # uncoded, or the model's own FEC


class semantic_decoder(image_rx):
    """LLR PDU in, image PDU out through the learned decoder (ONNX Runtime).

    The model comes from the frame (its name and fingerprint), or ``model`` when given; a frame for
    another model, or with a wrong number of LLRs, is logged and dropped.

    Args:
        model: empty (the frame's model), a registry name or a model folder.
        hard_decision: feed the decoder [LLR > 0] instead of P(b=1) = sigmoid(LLR).
        output_dir: when set, every image is written there with a JSON record.
    """

    def __init__(self, model: str = "", hard_decision: bool = False, output_dir: str = ""):
        image_rx.__init__(self, output_dir)
        self.hard = bool(hard_decision)
        self.fixed = learned_codec(model, self.hard) if model else None

    def codec(self, name: str):
        key = name[:-len("-hard")] if name.endswith("-hard") else name
        if key not in self._codecs:
            try:
                self._codecs[key] = learned_codec(key, self.hard)
            except SemcomError as err:
                raise ValueError(str(err)) from None
        return self._codecs[key]


class image_source(gr.basic_block):
    """Publishes an image file as an image PDU, ``count`` times, every ``interval`` seconds.

    Args:
        path: image file (PNG, JPEG, ...).
        count: how many times to send it (0 = forever); after the last, the block finishes, so a
            headless flowgraph ends once everything downstream has passed it on.
        interval: seconds between sends.
    """

    def __init__(self, path: str = "", count: int = 1, interval: float = 1.0):
        gr.basic_block.__init__(self, name="semcom_image_source", in_sig=None, out_sig=None)
        from ..imageio import load_image
        self.message_port_register_out(OUT)
        self.image = load_image(path)
        self.count, self.interval = int(count), float(interval)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        return True

    def _run(self):
        sent = 0
        while not self._stop.is_set() and (self.count == 0 or sent < self.count):
            self.message_port_pub(OUT, image_pdu(self.image, {"source": "image_source"}))
            sent += 1
            if self.count == 0 or sent < self.count:
                self._stop.wait(self.interval)
        if not self._stop.is_set():  # all sent: the flowgraph may end once downstream has sent them on
            self.to_basic_block()._post(SYSTEM, pmt.cons(DONE, pmt.from_long(1)))
