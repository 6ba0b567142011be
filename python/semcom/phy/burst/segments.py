"""A frame's payload split over many bursts (``segment``), and its reassembly (``Reassembler``).

A frame (one image) has ``payload_bits`` information bits. The transmitter splits
them into ``segments`` consecutive segments (``segment``) and sends each in its
own burst, preceded by a ``Header``. Every segment except the last carries
``ceil(payload_bits / segments)`` bits; the last carries the rest (at least 1).
``segment_lengths`` is the one place that rule lives.

The receiver feeds (header, segment LLRs) to a ``Reassembler``, which returns a
``Frame`` with the whole payload's LLRs once every segment arrived, or once a
newer frame shows the missing ones are lost: those spans get LLR 0 (erasures),
so a learned codec can still decode a partial image.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from .header import (FRAME_MODULO, MAX_FRAME_BITS, MAX_PENDING_FRAMES, _NEWER_MAX, Header, _LinkNames, frame_key,
                     segment_lengths)


def segment(bits: np.ndarray, bits_per_burst: int, align: int = 1) -> list[np.ndarray]:
    """Split a frame's payload into ceil(len / bits_per_burst) consecutive chunks (views).

    Chunk lengths follow ``segment_lengths`` (with ``align``), so each is at most
    bits_per_burst when that is a multiple of ``align`` (and possibly less: 10 bits
    at 6 per burst give 5 + 5). ``len(result)`` is the header's ``segments``. A
    0-bit payload gives one empty chunk.
    """
    bits = np.asarray(bits)
    if bits.ndim != 1:
        raise ValueError(f"payload must be a 1-D bit array, got shape {bits.shape}")
    if int(bits_per_burst) < 1:
        raise ValueError(f"bits_per_burst must be at least 1, got {bits_per_burst}")
    count = max(1, -(-bits.size // int(bits_per_burst)))
    if count >= FRAME_MODULO:
        raise ValueError(f"{bits.size} bits at {bits_per_burst} per burst needs {count} segments; "
                         f"the header allows {FRAME_MODULO - 1}")
    edges = np.cumsum(segment_lengths(bits.size, count, align))[:-1]
    return np.split(bits, edges)



@dataclass
class Frame(_LinkNames):
    """A reassembled frame: its header fields, the payload LLRs, and which segments arrived."""
    codec_id: int
    height: int
    width: int
    frame: int
    segments: int
    modulation: int
    fec: int
    payload_bits: int
    llrs: np.ndarray  # float32, payload_bits long; 0 (erasure) over lost segments
    received: np.ndarray  # bool, one per segment
    bursts_lost: int
    session: int = 0
    fingerprint: int = 0

    @property
    def complete(self) -> bool:
        return self.bursts_lost == 0


class _Pending:
    def __init__(self, header: Header):
        self.header = header
        lengths = header.lengths
        self.lengths = lengths
        self.chunk = lengths[0]  # offset of segment i is i * chunk
        self.llrs = np.zeros(header.payload_bits, dtype=np.float32)
        self.received = np.zeros(header.segments, dtype=bool)

    def mismatch(self, h: Header) -> str | None:
        first = self.header
        for name in ("height", "width", "payload_bits", "segments", "fingerprint"):
            if getattr(h, name) != getattr(first, name):
                return (f"burst {h.segment} of frame {h.frame} has {name}={getattr(h, name)}, "
                        f"but the frame's first burst had {getattr(first, name)}")
        return None

    def finish(self) -> Frame:
        h = self.header
        return Frame(h.codec_id, h.height, h.width, h.frame, h.segments, h.modulation, h.fec,
                     h.payload_bits, self.llrs, self.received,
                     int(self.received.size - np.count_nonzero(self.received)), h.session, h.fingerprint)


REPLAY_WINDOW_FRAMES = 1024  # frames a session's replay window remembers behind its newest
MAX_SESSIONS = 1024  # sessions the replay window remembers (the least recently active forgotten first)


class Replayed(ValueError):
    """A burst of a frame its session already delivered, or older than the replay window."""
    reason = "replayed (a frame already delivered, or older than the replay window)"


class ReplayWindow:
    """The frames each transmitter session already delivered: per session, the newest frame
    number and a bitmap of the ``frames`` before it (16-bit wrap-around, see ``is_newer``). A
    frame at least ``frames`` older than the newest counts as delivered. At most
    ``max_sessions`` sessions are remembered, the least recently active forgotten first."""

    def __init__(self, frames: int = REPLAY_WINDOW_FRAMES, max_sessions: int = MAX_SESSIONS):
        if not 1 <= int(frames) <= _NEWER_MAX or int(max_sessions) < 1:
            raise ValueError(f"need frames in 1..{_NEWER_MAX} and max_sessions >= 1, got {frames}, {max_sessions}")
        self.frames, self.max_sessions = int(frames), int(max_sessions)
        self._mask = (1 << self.frames) - 1
        self._sessions: collections.OrderedDict[int, tuple[int, int]] = collections.OrderedDict()  # (newest, bits)

    def __len__(self) -> int:
        """Sessions remembered."""
        return len(self._sessions)

    def delivered(self, session: int, frame: int) -> bool:
        """Whether ``frame`` of ``session`` was delivered, or is older than the window; a session
        asked about becomes the most recently active."""
        if session not in self._sessions:
            return False
        self._sessions.move_to_end(session)
        newest, bits = self._sessions[session]
        age = (newest - int(frame)) % FRAME_MODULO
        return age <= _NEWER_MAX and (age >= self.frames or bool(bits >> age & 1))

    def deliver(self, session: int, frame: int) -> None:
        """Records ``frame`` of ``session`` as delivered."""
        frame = int(frame)
        newest, bits = self._sessions.pop(session, (frame, 0))
        age = (newest - frame) % FRAME_MODULO
        if age > _NEWER_MAX:  # newer than the newest: the window slides
            newest, bits, age = frame, bits << (FRAME_MODULO - age), 0
        self._sessions[session] = (newest, (bits | 1 << age) & self._mask)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)


class Reassembler:
    """Collects bursts per (session, codec_id, frame) and returns completed ``Frame`` objects.

    ``add`` returns a list (usually empty or one frame), because a burst can also
    finish older frames: a pending frame is given up on, its missing segments
    becoming erasures (LLR 0), once a burst arrives whose frame number is at least
    ``older_than_frames`` newer (16-bit wrap-around, see ``is_newer``) from the same
    transmitter session: the frame counter is shared by all codec_ids of a session, and a
    burst of another session (another transmitter, or a forged one) never finishes a frame. Raise ``older_than_frames`` to
    tolerate bursts reordered across frames. ``flush_all`` finishes everything
    (shutdown, timeout).

    Duplicate bursts of a pending frame are ignored (the first copy is kept) and
    counted in ``duplicates``. A returned frame is recorded in a ``ReplayWindow``: a
    later burst of it, or of a frame of its session older than the window, raises
    ``Replayed`` (counted in ``replayed``), so a frame played again never comes out twice.

    Memory is bounded before anything is allocated: a header announcing more than
    ``max_payload_bits`` is rejected, and a new frame that would make more than
    ``max_pending`` frames, or more than ``max_pending`` x ``max_payload_bits`` / 4
    LLRs, pending finishes the least recently fed pending frames first (their
    missing bursts erasures; counted in ``evicted``). So forged headers of any kind
    cost at most that much memory, and a frame still receiving bursts is not the one
    finished (a flood of one-burst forgeries goes first).
    """

    def __init__(self, older_than_frames: int = 1, max_payload_bits: int = MAX_FRAME_BITS,
                 max_pending: int = MAX_PENDING_FRAMES):
        if not 1 <= int(older_than_frames) <= _NEWER_MAX:
            raise ValueError(f"older_than_frames must be in 1..{_NEWER_MAX}, got {older_than_frames}")
        if int(max_payload_bits) < 1 or int(max_pending) < 1:
            raise ValueError(f"need max_payload_bits >= 1 and max_pending >= 1, got {max_payload_bits}, {max_pending}")
        self.older_than_frames = int(older_than_frames)
        self.max_payload_bits = int(max_payload_bits)  # bounds the buffer a header can allocate
        self.max_pending = int(max_pending)
        self.max_pending_bits = max(self.max_payload_bits, self.max_pending * self.max_payload_bits // 4)
        self.duplicates = self.evicted = self.replayed = self._arrivals = 0
        self.window = ReplayWindow()
        self._pending: collections.OrderedDict[tuple[int, int, int], _Pending] = collections.OrderedDict()

    @property
    def pending_bits(self) -> int:
        """LLRs held by the frames in progress."""
        return sum(p.header.payload_bits for p in self._pending.values())

    def _make_room(self, payload_bits: int) -> list[Frame]:
        """Finish the least recently fed pending frames until one more of ``payload_bits`` fits."""
        done = []
        while self._pending and (len(self._pending) >= self.max_pending
                                 or self.pending_bits + payload_bits > self.max_pending_bits):
            done.append(self._finish(next(iter(self._pending))))
            self.evicted += 1
        return done

    def _finish(self, key: tuple[int, int, int]) -> Frame:
        """The pending frame ``key``, finished and recorded as delivered."""
        self.window.deliver(key[0], key[2])
        return self._pending.pop(key).finish()

    def __len__(self) -> int:
        """Number of frames in progress."""
        return len(self._pending)

    def add(self, header: Header, llrs: np.ndarray) -> list[Frame]:
        """Store one burst's segment LLRs; return the frames this completes (oldest first).

        ValueError (one line) for a burst that cannot belong to its frame: invalid
        header, wrong length for its segment, or shape/payload_bits/segments unlike
        the frame's first burst; ``Replayed`` for a burst of a frame already delivered.
        A rejected burst changes nothing.
        """
        why = header.problem()
        if why:
            raise ValueError(why)
        if header.payload_bits > self.max_payload_bits:
            raise ValueError(f"frame of {header.payload_bits} bits exceeds "
                             f"max_payload_bits={self.max_payload_bits}")
        llrs = np.asarray(llrs, dtype=np.float32)
        if llrs.ndim != 1:
            raise ValueError(f"burst LLRs must be 1-D, got shape {llrs.shape}")
        key = frame_key(header)
        pending = self._pending.get(key)
        if pending is not None:
            why = pending.mismatch(header)
            if why:
                raise ValueError(why)
            lengths = pending.lengths
        else:
            lengths = header.lengths
        want = lengths[header.segment]
        if llrs.size != want:
            raise ValueError(f"burst {header.segment} of frame {header.frame} has {llrs.size} LLRs, "
                             f"its segment carries {want}")

        if pending is None and self.window.delivered(header.session, header.frame):
            self.replayed += 1
            raise Replayed(f"burst {header.segment} of frame {header.frame} of session {header.session:08x}: "
                           "that frame was already delivered, or is older than the replay window")
        done = self.flush(header.frame, session=header.session)
        if pending is None:
            done += self._make_room(header.payload_bits)
            pending = self._pending[key] = _Pending(header)
            pending.arrival, self._arrivals = self._arrivals, self._arrivals + 1
        self._pending.move_to_end(key)  # least recently fed first in line to be finished early
        if pending.received[header.segment]:
            self.duplicates += 1
            return done
        start = header.segment * pending.chunk
        pending.llrs[start:start + want] = llrs
        pending.received[header.segment] = True
        if pending.received.all():
            done.append(self._finish(key))
        return done

    def flush(self, frame: int, older_than_frames: int | None = None, session: int = 0) -> list[Frame]:
        """Finish every pending frame of ``session`` at least ``older_than_frames`` (default:
        the reassembler's) frame numbers older than ``frame``; oldest first."""
        n = self.older_than_frames if older_than_frames is None else int(older_than_frames)
        ages = {key: (int(frame) - key[2]) % FRAME_MODULO for key in self._pending if key[0] == session}
        stale = [key for key, age in ages.items() if n <= age <= _NEWER_MAX]
        stale.sort(key=lambda k: -ages[k])
        return [self._finish(key) for key in stale]

    def flush_key(self, key: tuple[int, int, int]) -> list[Frame]:
        """Finish one pending frame (its missing segments as erasures), if it is pending."""
        return [self._finish(key)] if key in self._pending else []

    def flush_all(self) -> list[Frame]:
        """Finish every pending frame, in the order their first bursts arrived."""
        return [self._finish(key) for key in sorted(self._pending, key=lambda k: self._pending[k].arrival)]

