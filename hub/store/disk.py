"""Full-disk policy: what may be shed when free space runs low.

Raw streams (stream-minute sample blocks, continuous SpO2 and heart rate with RR intervals,
intermediate cuff pressure and temperature, anything carrying waveform samples) are the bulk of
the bytes and are summarised elsewhere; spot measurements and summaries are what the clinician
reads. So raw streams are the first thing the hub stops keeping. Nothing unacknowledged is
ever deleted by this policy.
"""

from __future__ import annotations

import enum
import shutil
from pathlib import Path

from hub.model import Kind, Reading

RAW_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.SPO2_CONTINUOUS,
        Kind.HEART_RATE,
        Kind.CUFF_PRESSURE,
        Kind.INTERMEDIATE_TEMPERATURE,
        Kind.STREAM_BLOCK,
    }
)
WAVEFORM_DETAIL = "samples"


class DiskClass(enum.IntEnum):
    KEPT = 0  # spot measurements and summaries
    RAW = 1  # raw streams and waveforms: shed first


def disk_class(reading: Reading) -> DiskClass:
    """Pure classification of a reading for the full-disk policy."""
    if (
        reading.kind in RAW_KINDS
        or reading.samples is not None
        or WAVEFORM_DETAIL in reading.details
    ):
        return DiskClass.RAW
    return DiskClass.KEPT


def disk_free(path: Path) -> int:
    """Bytes free for an unprivileged writer on the file system holding `path`."""
    return shutil.disk_usage(path).free
