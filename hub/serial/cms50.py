"""Contec CMS50D+ finger pulse oximeter, live stream of the older firmware (pure).

The device sends 60 frames a second at 19200 baud, 8 data bits, odd parity. A frame is five
bytes; bit 7 is set in the first byte only, which is how a reader finds frame boundaries and
resynchronises after garbage:

    byte 0  bit 7 sync | bit 6 pulse beep | bit 5 SpO2 falling | bit 4 searching too long |
            bits 0-3 signal strength
    byte 1  bits 0-6 plethysmogram (0-127)
    byte 2  bit 6 pulse rate bit 7 | bit 5 searching for pulse | bit 4 probe (finger) error |
            bits 0-3 bar graph
    byte 3  bits 0-6 pulse rate bits 0-6 (255 overall = no reading)
    byte 4  bits 0-6 SpO2 % (127 = no reading)

Documented in Contec's "Communication protocol of pulse oximeter" as quoted by public drivers,
e.g. github.com/atbrask/CMS50Dplus (cms50dplus.py, LiveDataPoint) and
github.com/headrotor/contec_data; newer firmware (4.6+) uses a different, command-driven
protocol at 115200 baud that this module does not speak.

Parsing is vectorised with numpy: a buffer of any size becomes arrays of fields at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hub.model import Code, Kind, Measurement, Observation, canonical_unit

FRAME = 5
RATE_HZ = 60
BAUD = 19200
# Silicon Labs CP210x USB-UART bridge in the CMS50D+ cable (generic: a candidate, confirmed
# by frames that parse).
USB_IDS: frozenset[tuple[int, int]] = frozenset({(0x10C4, 0xEA60)})

_NO_PULSE = 255
_NO_SPO2 = 127
_SYNC = 0x80
_OFFSETS = np.arange(FRAME)
_U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Frames:
    """Fields of consecutive frames, one array element per frame."""

    pleth: _U8
    pulse: npt.NDArray[np.int16]
    spo2: _U8
    signal: _U8
    beep: npt.NDArray[np.bool_]
    searching: npt.NDArray[np.bool_]
    probe_error: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.pleth)

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        """Frames that carry a real SpO2 and pulse (finger in, pulse found)."""
        return (
            (self.pulse != _NO_PULSE)
            & (self.spo2 != _NO_SPO2)
            & ~self.searching
            & ~self.probe_error
            & (self.pulse > 0)
            & (self.spo2 > 0)
        )


_FIELD_NAMES = ("pleth", "pulse", "spo2", "signal", "beep", "searching", "probe_error")


@dataclass(frozen=True)
class Parsed:
    frames: Frames
    rest: bytes  # an incomplete frame at the end, to prepend to the next read
    skipped: int  # bytes thrown away because they belong to no frame


def parse(buffer: bytes) -> Parsed:
    """All complete frames in `buffer`, resynchronising on the sync bit after garbage."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    n = len(data)
    sync = (data & _SYNC) != 0
    if n >= FRAME:
        body_clear = ~sync
        ok = sync[: n - 4].copy()
        for k in range(1, FRAME):
            ok &= body_clear[k : n - 4 + k]
        starts = np.flatnonzero(ok)
    else:
        starts = np.empty(0, dtype=np.intp)
    frames = data[starts[:, None] + _OFFSETS] if len(starts) else np.empty((0, FRAME), np.uint8)
    end_of_frames = int(starts[-1]) + FRAME if len(starts) else 0
    tail_from = max(end_of_frames, n - (FRAME - 1))
    tail_syncs = np.flatnonzero(sync[tail_from:])
    rest_at = tail_from + int(tail_syncs[0]) if len(tail_syncs) else n
    skipped = rest_at - FRAME * len(starts)
    return Parsed(_fields(frames), bytes(buffer[rest_at:]), skipped)


def concat(batches: list[Frames]) -> Frames:
    """Frames of several reads as one batch."""
    return Frames(*(np.concatenate([getattr(b, name) for b in batches]) for name in _FIELD_NAMES))


def _fields(frames: _U8) -> Frames:
    b0, b1, b2, b3, b4 = (frames[:, i] for i in range(FRAME))
    return Frames(
        pleth=b1 & 0x7F,
        pulse=((b2 & 0x40).astype(np.int16) << 1) | (b3 & 0x7F),
        spo2=b4 & 0x7F,
        signal=b0 & 0x0F,
        beep=(b0 & 0x40) != 0,
        searching=((b2 & 0x20) != 0) | ((b0 & 0x10) != 0),
        probe_error=(b2 & 0x10) != 0,
    )


def encode_frame(
    *,
    pleth: int,
    pulse: int | None,
    spo2: int | None,
    signal: int = 8,
    beep: bool = False,
    probe_error: bool = False,
) -> bytes:
    """One live frame (simulators, tests). None pulse/SpO2 = the device's "no reading"."""
    rate = _NO_PULSE if pulse is None else pulse
    saturation = _NO_SPO2 if spo2 is None else spo2
    if not (0 <= pleth <= 127 and 0 <= rate <= 255 and 0 <= saturation <= 127):
        raise ValueError("pleth 0-127, pulse 0-255, SpO2 0-127")
    searching = pulse is None or spo2 is None
    return bytes(
        (
            _SYNC | (0x40 if beep else 0) | (signal & 0x0F),
            pleth,
            (rate >> 1 & 0x40) | (0x20 if searching else 0) | (0x10 if probe_error else 0),
            rate & 0x7F,
            saturation,
        )
    )


def summarise(frames: Frames) -> Measurement | None:
    """One continuous SpO2 reading for a batch of frames (typically one second): the median
    of the valid frames, or None when no frame was valid (finger out, still searching)."""
    valid = frames.valid
    if not valid.any():
        return None
    spo2 = float(np.median(frames.spo2[valid]))
    pulse = float(np.median(frames.pulse[valid]))
    observations = (
        Observation(Code.SPO2, spo2, canonical_unit(Code.SPO2)),
        Observation(Code.HEART_RATE, pulse, canonical_unit(Code.HEART_RATE)),
    )
    details = {"frames": len(frames), "valid_frames": int(valid.sum())}
    return Measurement(Kind.SPO2_CONTINUOUS, None, observations, frozenset(), details)
