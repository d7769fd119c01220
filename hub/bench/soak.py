"""`hub bench soak`: the hub's running cost stays flat over a year of a realistic patient.

Stores are aged with the store's own write path (`hub.bench.soak_age`): two 1 Hz streams
eight hours a night, four spot readings a day with their measurement-due events, everything
acknowledged but the last six hours; `retention_days = 400` (events too), so the whole year
stays and the cost must stay flat without help from retention. Then, each against the real
daemon on the simulated patient (`hub.bench.soak_daemon`):

- `idle_cpu_ratio_365_vs_1` <= 1.2: process CPU seconds per wall second while idle with four
  devices connected and nothing for them to send, on the 365-day store against the 1-day
  store (the stores keep their last six hours unacknowledged: the uplink is off);
- `status_ms_ratio_365_vs_1` <= 2: the median time of `await daemon.status()`, likewise;
  both stores are measured `IDLE_ROUNDS` times in turn, each time over `IDLE_WINDOWS`
  windows, and the least disturbed window and run count (a stray garbage collection or
  Bluetooth event costs more than a window's idle work);
- `db_bytes_vs_retention_budget` <= 1.0: a third store aged with the default retention (7
  days) and the daily purge, measured after the daemon's own purge at start, against the
  budget of `retention_budget`;
- `disk_bytes_per_stream_day_vs_per_sample_rows` <= 0.1 (`hub.bench.soak_disk`);
- `rss_growth_mib_per_day` <= 1: RSS growth over 24 simulated hours of streaming through the
  daemon's own intake and pipeline after a simulated hour's warm-up, on a store aged a week
  (`hub.bench.soak_rss`, a process of its own, run while the stores age; the daemon figures
  are taken after it ended).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.bench import BenchResult, Target
from hub.bench.soak_age import Aged, PatientDays, Plan, age
from hub.bench.soak_daemon import (
    DaemonFigures,
    RetentionRun,
    idle_and_status,
    least_disturbed,
    start_and_purge,
)
from hub.bench.soak_disk import DbSize, StreamDayBytes, db_size, stream_day_bytes, table_bytes
from hub.config import Config
from hub.daemon import load_config
from hub.daemon.pipeline import Pipeline
from hub.daemon.secret import load_secret
from hub.ids import IdMinter
from hub.store import KeySource, Store, admin
from hub.testbed.patient import DEVICES

YEAR = 365
SNAPSHOTS = (1, 30, 90, 180, YEAR)  # days at which the aging year's database is measured
PENDING_HOURS = 6.0
WINDOWED_AGED_DAYS = 21  # the default-retention store: three retention windows
IDLE_S = 5.0  # one idle window; the quietest of IDLE_WINDOWS in a row counts
IDLE_WINDOWS = 2
IDLE_ROUNDS = 2  # the 1-day and the 365-day store in turn, the least disturbed run of each
STATUS_CALLS = 200
RSS_AGED_DAYS = 7  # the RSS run's store holds a week, as under the default retention
RSS_WARMUP_S = 3600
RSS_MEASURED_S = 24 * 3600
RSS_TIMEOUT_S = 600
DAY = timedelta(days=1)
MIB = 1 << 20
PURGE_CUT_PAGES = 2  # per b-tree, see `retention_budget`

SCHEDULE = """
[[schedule]]
kind = "blood-pressure"
times = ["08:00", "20:00"]

[[schedule]]
kind = "weight"
times = ["08:00"]

[[schedule]]
kind = "spo2-spot"
times = ["20:00"]
"""


def soak_config(root: Path, *, keep_a_year: bool) -> Path:
    """A hub under `root`: the uplink off, the four simulated devices, the schedule of the
    aging's spot readings; retention of 400 days (readings and events) or the defaults."""
    retention = "retention_days = 400\nevent_retention_days = 400\n" if keep_a_year else ""
    devices = "".join(
        f'\n[[devices]]\naddress = "{address}"\nkind = "{kind}"\nname = "{name}"\n'
        for address, kind, name in DEVICES
    )
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hub.toml"
    path.write_text(
        f'[hub]\nid = "soak-hub"\ndata_dir = "{root / "state"}"\n'
        f'runtime_dir = "{root / "run"}"\nlanguage = "en"\ntimezone = "UTC"\n'
        "status_interval_s = 1.0\n\n"
        f"[store]\ndisk_floor_mb = 0\n{retention}\n"
        "[uplink]\nenabled = false\n\n[ble]\nmax_connections = 4\n\n"
        '[patient]\nid = "soak-patient"\npathway = "news2"\n'
        f"{SCHEDULE}{devices}"
    )
    return path


class Ager:
    """Ages the store of one soak config through the store's own API, with the hub's id
    secret and the config's triage rules and schedule."""

    def __init__(self, config: Path) -> None:
        in_force = load_config(config)
        self.cfg: Config = in_force.cfg
        rules = in_force.rules
        self.ids = IdMinter(load_secret(self.cfg.hub.data_dir / "ids.secret"))
        pipeline = Pipeline(rules.profile, rules.settings, self.ids)
        self.days = PatientDays(self.ids, pipeline, rules.items, rules.tz)

    def age(self, plan: Plan) -> Aged:
        with admin.open_store(self.cfg) as store:
            return age(store, self.days, plan)

    def age_in_steps(self, end: datetime, steps: tuple[int, ...]) -> tuple[Aged, dict[int, DbSize]]:
        """Age to `steps[-1]` days before `end`, measuring the database after each step's
        days were written (all acknowledged but the very last hours)."""
        sizes: dict[int, DbSize] = {}
        total = Aged()
        done = 0
        for step in steps:
            pending = PENDING_HOURS if step == steps[-1] else 0.0
            step_end = end - (steps[-1] - step) * DAY
            total = total.merged(self.age(Plan(step_end, step - done, pending_hours=pending)))
            sizes[step] = db_size(self.cfg.store_path)
            done = step
        return total, sizes


def retention_budget(
    empty: DbSize,
    year: dict[int, DbSize],
    event_bytes_per_day: float,
    cfg: Config,
    aged_days: int,
) -> float:
    """The bytes a store aged `aged_days` under `cfg`'s retention may hold on disk.

    The empty store (schema, key check), plus what a day adds to the aging year's database (its
    slope from the first to the last snapshot, events included) for `retention_days + 1` days
    — the daily purge lets one day past the window gather before it runs, and a database file
    keeps its largest size — plus the events of the days between the readings' window and the
    events' own (`event_retention_days`, 90 by default), at their bytes per day in the year's
    database (dbstat), plus `PURGE_CUT_PAGES` pages for each table and index: where a purge
    cuts a b-tree, the leaf page and the interior page above the cut stay part-filled, which
    the append-only year does not have. The allowance is a fixed few pages, whatever the
    window: a day not purged would overrun it a hundredfold."""
    first, last = min(year), max(year)
    per_day = (year[last].file_bytes - year[first].file_bytes) / (last - first)
    keep, keep_events = cfg.store.retention_days, cfg.store.event_retention_days
    extra_event_days = max(0, min(aged_days, keep_events) - keep)
    cut_pages = PURGE_CUT_PAGES * empty.btrees * empty.page_bytes
    return (
        empty.file_bytes + per_day * (keep + 1) + event_bytes_per_day * extra_event_days + cut_pages
    )


@dataclass(frozen=True)
class Measured:
    day: Aged
    year: Aged
    windowed: Aged
    sizes: dict[int, DbSize]
    tables: dict[str, int]
    empty: DbSize
    stream_day: StreamDayBytes
    rss_kib_hourly: list[int]
    on_day: DaemonFigures
    on_year: DaemonFigures
    purged: RetentionRun
    windowed_size: DbSize
    budget: float


def measure(root: Path) -> Measured:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    rss_config = soak_config(root / "rss", keep_a_year=True)
    Ager(rss_config).age(Plan(end, RSS_AGED_DAYS, pending_hours=PENDING_HOURS))
    rss = _start_rss(rss_config)
    try:
        day_config = soak_config(root / "day", keep_a_year=True)
        day = Ager(day_config).age(Plan(end, 1, pending_hours=PENDING_HOURS))
        year_config = soak_config(root / "year", keep_a_year=True)
        year_ager = Ager(year_config)
        year, sizes = year_ager.age_in_steps(end, SNAPSHOTS)
        windowed_config = soak_config(root / "windowed", keep_a_year=False)
        windowed_ager = Ager(windowed_config)
        windowed = windowed_ager.age(
            Plan(end, WINDOWED_AGED_DAYS, pending_hours=PENDING_HOURS, purge=True)
        )
        empty = _empty_store(root / "empty")
        tables = table_bytes(year_ager.cfg.store_path)
        stream_day = stream_day_bytes(root / "disk", year_ager.days, year_ager.ids, end)
        rss_kib_hourly = _finish_rss(rss)
    finally:
        if rss.poll() is None:
            rss.kill()
            rss.wait()
    day_runs, year_runs = [], []
    for _ in range(IDLE_ROUNDS):
        day_runs.append(_idle(day_config))
        year_runs.append(_idle(year_config))
    on_day, on_year = least_disturbed(day_runs), least_disturbed(year_runs)
    purged = asyncio.run(start_and_purge(windowed_config, root / "windowed" / "flash"))
    event_bytes = sum(size for name, size in tables.items() if "events" in name) / YEAR
    return Measured(
        day=day,
        year=year,
        windowed=windowed,
        sizes=sizes,
        tables=tables,
        empty=empty,
        stream_day=stream_day,
        rss_kib_hourly=rss_kib_hourly,
        on_day=on_day,
        on_year=on_year,
        purged=purged,
        windowed_size=db_size(windowed_ager.cfg.store_path),
        budget=retention_budget(empty, sizes, event_bytes, windowed_ager.cfg, WINDOWED_AGED_DAYS),
    )


def run() -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="hub-bench-soak-") as tmp:
        m = measure(Path(tmp))
    result = BenchResult("soak", figures=figures(m))
    growth = (m.rss_kib_hourly[-1] - m.rss_kib_hourly[0]) / 1024 * (24 * 3600 / RSS_MEASURED_S)
    targets = {
        "idle_cpu_ratio_365_vs_1": (m.on_year.idle_cpu_percent / m.on_day.idle_cpu_percent, 1.2),
        "status_ms_ratio_365_vs_1": (m.on_year.status_ms / m.on_day.status_ms, 2),
        "db_bytes_vs_retention_budget": (m.windowed_size.file_bytes / m.budget, 1.0),
        "disk_bytes_per_stream_day_vs_per_sample_rows": (
            m.stream_day.blocks / m.stream_day.per_sample,
            0.1,
        ),
        "rss_growth_mib_per_day": (growth, 1),
    }
    for name, (value, target) in targets.items():
        result.figures[name] = value
        result.targets[name] = Target(value, target, higher_is_better=False)
    return result


def figures(m: Measured) -> dict[str, float]:
    """The absolute figures beside the targets' ratios."""
    f: dict[str, float] = {
        f"db_mib_{days}d": size.file_bytes / MIB for days, size in m.sizes.items()
    }
    per_day = (m.sizes[YEAR].file_bytes - m.sizes[1].file_bytes) / (YEAR - 1)
    f.update(
        db_bytes_per_day=per_day,
        rows_1d=m.day.readings,
        rows_365d=m.year.readings,
        blocks_365d=m.year.blocks,
        events_365d=m.year.events,
        batches_365d=m.year.batches,
        pending_rows=m.year.pending,
        readings_table_mib_365d=m.tables.get("readings", 0) / MIB,
    )
    for name, fig in (("1d", m.on_day), ("365d", m.on_year)):
        f[f"idle_cpu_percent_{name}"] = fig.idle_cpu_percent
        f[f"store_thread_cpu_percent_{name}"] = fig.store_thread_cpu_percent
        f[f"status_ms_{name}"] = fig.status_ms
        f[f"status_ms_p90_{name}"] = fig.status_ms_p90
        f[f"start_to_ready_s_{name}"] = fig.ready_s
        f[f"connected_{name}"] = fig.connected
        f[f"queue_depth_{name}"] = fig.queue_depth
    cut = PURGE_CUT_PAGES * m.empty.btrees * m.empty.page_bytes
    size = m.windowed_size
    f.update(
        retention_store_days_on_disk=size.file_bytes / per_day,
        retention_store_days_live=size.live_bytes / per_day,
        retention_store_mib=size.file_bytes / MIB,
        retention_store_live_mib=size.live_bytes / MIB,
        retention_budget_mib=m.budget / MIB,
        retention_cut_allowance_kib=cut / 1024,
        db_bytes_vs_retention_budget_without_cut_allowance=size.file_bytes / (m.budget - cut),
        retention_daily_purged_rows=m.windowed.purged,
        retention_daemon_purged_rows=m.purged.purged_readings,
        disk_bytes_per_stream_day=m.stream_day.blocks,
        disk_bytes_per_stream_day_per_sample_rows=m.stream_day.per_sample,
        disk_bytes_per_stream_day_per_sample_rows_by_minute=m.stream_day.per_sample_by_minute,
        disk_bytes_vs_per_sample_rows_by_minute=m.stream_day.blocks
        / m.stream_day.per_sample_by_minute,
        rss_mib_after_warmup=m.rss_kib_hourly[0] / 1024,
        rss_mib_after_24h=m.rss_kib_hourly[-1] / 1024,
        rss_mib_peak=max(m.rss_kib_hourly) / 1024,
    )
    return f


def _idle(config: Path) -> DaemonFigures:
    flash = config.parent / "flash"
    return asyncio.run(
        idle_and_status(
            config, flash, idle_s=IDLE_S, windows=IDLE_WINDOWS, status_calls=STATUS_CALLS
        )
    )


def _empty_store(directory: Path) -> DbSize:
    path = directory / "empty.db"
    Store.open(path, KeySource(directory / "data.key")).close()
    return db_size(path)


def _start_rss(config: Path) -> subprocess.Popen[bytes]:
    args = [str(config), str(RSS_WARMUP_S), str(RSS_MEASURED_S)]
    return subprocess.Popen(
        [sys.executable, "-m", "hub.bench.soak_rss", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish_rss(process: subprocess.Popen[bytes]) -> list[int]:
    out, err = process.communicate(timeout=RSS_TIMEOUT_S)
    if process.returncode != 0:
        raise RuntimeError(f"soak_rss failed: {err.decode(errors='replace')[-2000:]}")
    found: dict[str, Any] = json.loads(out)
    return [int(kib) for kib in found["rss_kib_hourly"]]
