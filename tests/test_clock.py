from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.clock import ClockStamp, clock_synced, corrected_received, mark_corrected
from hub.model import Kind, Reading

BOOT_WALL = datetime(1970, 1, 1, 0, 1, tzinfo=UTC)  # a Pi without RTC before NTP


def test_receive_time_before_sync_is_mapped_through_monotonic_time() -> None:
    received = ClockStamp(BOOT_WALL + timedelta(seconds=30), monotonic=40.0)
    synced = ClockStamp(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), monotonic=100.0)
    assert corrected_received(received, synced) == datetime(2026, 11, 21, 11, 59, tzinfo=UTC)


def test_mark_corrected_flags_the_reading() -> None:
    r = Reading("id", "dev", Kind.WEIGHT, None, BOOT_WALL, (), frozenset({"x"}))
    fixed = mark_corrected(
        r, ClockStamp(BOOT_WALL, 5.0), ClockStamp(datetime(2026, 1, 1, tzinfo=UTC), 10.0)
    )
    assert fixed.received == datetime(2025, 12, 31, 23, 59, 55, tzinfo=UTC)
    assert fixed.flags == {"x", "hub-clock-corrected"}
    assert fixed.id == "id"


def test_timesyncd_flag_file_means_synced(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    flag.touch()
    assert clock_synced(flag) is True
