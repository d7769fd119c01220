"""The CMS50D+ live-stream parser (fuzzed) and a session over a pseudo-terminal."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serial.tools.list_ports_common import ListPortInfo

from hub.ids import IdMinter
from hub.model import Code, Kind, Reading
from hub.serial import cms50
from hub.serial.devices import resolve
from hub.serial.reader import SerialOximeter, candidates
from hub.sim.serial_oximeter import PtyOximeter

frames_st = st.builds(
    lambda pleth, pulse, spo2, probe: cms50.encode_frame(
        pleth=pleth, pulse=pulse, spo2=spo2, probe_error=probe
    ),
    st.integers(0, 127),
    st.none() | st.integers(0, 255),
    st.none() | st.integers(0, 127),
    st.booleans(),
)


def test_known_frame() -> None:
    # sync + beep + strength 5, pleth 100, pulse 200 (bit 7 in byte 2), SpO2 95
    parsed = cms50.parse(bytes([0xC5, 100, 0x40, 200 & 0x7F, 95]))
    f = parsed.frames
    assert (int(f.pleth[0]), int(f.pulse[0]), int(f.spo2[0]), int(f.signal[0])) == (100, 200, 95, 5)
    assert bool(f.beep[0]) and not f.searching[0] and not f.probe_error[0]
    assert bool(f.valid[0])
    assert (parsed.rest, parsed.skipped) == (b"", 0)


@given(st.binary(max_size=400))
def test_any_bytes_are_accounted_for(data: bytes) -> None:
    parsed = cms50.parse(data)
    assert _frame_bytes(parsed) + parsed.skipped + len(parsed.rest) == len(data)
    assert len(parsed.rest) < cms50.FRAME
    assert parsed.rest == b"" or parsed.rest[0] & 0x80
    assert data.endswith(parsed.rest)


def _frame_bytes(parsed: cms50.Parsed) -> int:
    return cms50.FRAME * len(parsed.frames)


@given(st.lists(st.tuples(frames_st, st.binary(max_size=4)), max_size=40))
def test_resynchronises_after_short_garbage(pairs: list[tuple[bytes, bytes]]) -> None:
    """Garbage of up to four bytes between frames can never hide or fake a frame: a sync
    byte in it is followed by the next real sync byte too soon."""
    stream = b"".join(garbage + frame for frame, garbage in pairs)
    parsed = cms50.parse(stream + cms50.encode_frame(pleth=1, pulse=60, spo2=99))
    expected = cms50.parse(b"".join(frame for frame, _ in pairs))
    assert np.array_equal(parsed.frames.spo2[:-1], expected.frames.spo2)
    assert np.array_equal(parsed.frames.pulse[:-1], expected.frames.pulse)
    assert parsed.skipped == sum(len(g) for _, g in pairs)


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=20))
def test_chunked_reads_give_the_same_frames(data: bytes, cuts: list[int]) -> None:
    whole = cms50.parse(data)
    pending, got, skipped, at = b"", [], 0, 0
    for size in [*cuts, len(data)]:
        parsed = cms50.parse(pending + data[at : at + size])
        at += size
        pending = parsed.rest
        got.extend(parsed.frames.pleth.tolist())
        skipped += parsed.skipped
    assert got == whole.frames.pleth.tolist()
    assert (pending, skipped) == (whole.rest, whole.skipped)


def test_encode_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError):
        cms50.encode_frame(pleth=128, pulse=60, spo2=97)


def test_summary_uses_valid_frames_only() -> None:
    good = b"".join(cms50.encode_frame(pleth=5, pulse=p, spo2=96) for p in (70, 72, 74))
    finger_out = cms50.encode_frame(pleth=5, pulse=None, spo2=None, probe_error=True)
    measurement = cms50.summarise(cms50.parse(good + finger_out * 3).frames)
    assert measurement is not None
    assert measurement.kind is Kind.SPO2_CONTINUOUS
    assert [(o.code, o.value) for o in measurement.observations] == [
        (Code.SPO2, 96.0),
        (Code.HEART_RATE, 72.0),
    ]
    assert cms50.summarise(cms50.parse(finger_out).frames) is None


def test_usb_ids_pick_the_oximeter_cable() -> None:
    cable, other = ListPortInfo("/dev/ttyUSB0"), ListPortInfo("/dev/ttyACM0")
    cable.vid, cable.pid = 0x10C4, 0xEA60
    other.vid, other.pid = 0x2341, 0x0043
    assert candidates([other, cable]) == ["/dev/ttyUSB0"]


def test_configured_port_resolves_to_a_path_only_when_there_is_one() -> None:
    here = {"/dev/ttyUSB1"}
    assert resolve("/dev/ttyUSB1", here.__contains__, list) == "/dev/ttyUSB1"
    assert resolve("/dev/ttyUSB0", here.__contains__, list) is None
    assert resolve("auto", here.__contains__, lambda: ["/dev/ttyUSB3", "/dev/ttyUSB4"]) == (
        "/dev/ttyUSB3"
    )
    assert resolve("auto", here.__contains__, list) is None


@pytest.mark.slow
def test_pty_session_resynchronises_after_garbage() -> None:
    async def scenario() -> None:
        device = PtyOximeter(spo2=97, pulse=68)
        device.start()
        reader = SerialOximeter(device.path, device="cms50d", ids=IdMinter(bytes(32)), period_s=0.2)
        readings: asyncio.Queue[Reading] = asyncio.Queue()
        task = asyncio.create_task(reader.run(readings))
        try:
            first = await asyncio.wait_for(readings.get(), 20)
            assert (first.value_of(Code.SPO2), first.value_of(Code.HEART_RATE)) == (97.0, 68.0)
            device.inject(b"\x81\x02\x03garbage\xff\xfe")
            device.values(91, 133)
            end = time.monotonic() + 20
            while True:
                reading = await asyncio.wait_for(readings.get(), 20)
                if reading.value_of(Code.SPO2) == 91.0 or time.monotonic() > end:
                    break
            assert reading.value_of(Code.HEART_RATE) == 133.0
            assert reader.skipped > 0
            assert reader.frames > 0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await device.stop()

    asyncio.run(scenario())
