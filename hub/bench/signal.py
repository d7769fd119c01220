"""`hub bench signal`: the continuous signal pipeline against neurokit2, heartpy and np.add.

Data (deterministic, `hub.signal.synthetic`): one hour of 100 Hz PPG with spikes, flat lines
and motion, and 24 h of 1 Hz SpO2/pulse with one real dip, motion drops and dropouts. The
pipeline is everything the daemon runs on them: PPG artifacts, band-pass, beats, HR and
quality per window; SpO2 cleaning, per-minute summaries, ODI3/ODI4 events and stream triage.
Peers run on the same PPG in the same process; the slow ones (ppg_process, heartpy) once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from hub.bench import BenchResult, Target, best_rate
from hub.model import Code
from hub.signal import oximetry, ppg, synthetic, triage
from hub.signal.rules import PROFILES, Settings

FS = 100.0
_T0 = datetime(2026, 1, 1, tzinfo=UTC)

# Run in a fresh interpreter: import time and resident memory of hub.signal on top of numpy.
_IMPORT_PROBE = """
import json, os, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
base = rss(); t = time.perf_counter(); import numpy; numpy_s = time.perf_counter() - t
after_numpy = rss(); t = time.perf_counter()
import hub.signal.ppg, hub.signal.oximetry, hub.signal.hrv, hub.signal.triage, hub.signal.news2
signal_s = time.perf_counter() - t
print(json.dumps({"numpy_s": numpy_s, "numpy_mib": (after_numpy - base) / 2**20,
                  "signal_s": signal_s, "signal_mib": (rss() - after_numpy) / 2**20}))
"""


def _spo2_pipeline(day: synthetic.Spo2Day) -> int:
    cleaned = oximetry.clean(day.spo2, day.pulse)
    oximetry.per_minute(cleaned.spo2)
    oximetry.desaturations(cleaned.spo2, 3)
    oximetry.desaturations(cleaned.spo2, 4)
    triage.step_stream(
        triage.StreamState(Code.SPO2),
        _T0,
        np.where(cleaned.valid, day.spo2, np.nan),
        PROFILES["general"].bands[Code.SPO2],
        Settings(),
    )
    return len(day.spo2)


def _hr_error(record: synthetic.Ppg, result: ppg.Analysis) -> tuple[float, float]:
    """Mean absolute error (bpm) of per-window HR against the simulated beats, over windows
    the quality index accepts; and the share of windows accepted."""
    per = round(result.window_s * record.fs)
    ibi = np.diff(record.beats)
    window = np.round(record.beats[1:] * record.fs).astype(int) // per
    truth = np.array([60 / np.median(ibi[window == w]) for w in range(len(result.hr))])
    usable = ~np.isnan(result.hr)
    return float(np.mean(np.abs(result.hr - truth)[usable])), float(usable.mean())


def _once(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run() -> BenchResult:
    record = synthetic.ppg(seconds=3600, fs=FS, seed=0)
    day = synthetic.spo2_day(seed=0)
    x = record.signal
    n_ppg, n_spo2 = len(x), len(day.spo2)
    result = BenchResult("signal")
    f = result.figures

    f["ppg_samples_per_s"] = best_rate(lambda: len(ppg.analyse(x, FS).artifacts.cleaned))
    f["spo2_samples_per_s"] = best_rate(lambda: _spo2_pipeline(day))
    f["pipeline_samples_per_s"] = (n_ppg + n_spo2) / (
        n_ppg / f["ppg_samples_per_s"] + n_spo2 / f["spo2_samples_per_s"]
    )
    hr_error, usable = _hr_error(record, ppg.analyse(x, FS))
    f["hr_error_bpm"] = hr_error
    f["hr_windows_usable"] = usable

    a = np.random.default_rng(0).standard_normal(4_000_000)  # 32 MB: out of cache
    b, out = np.empty_like(a), np.empty_like(a)
    f["np_add_samples_per_s"] = best_rate(lambda: len(np.add(a, b, out=out)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import heartpy
        import neurokit2 as nk

        def nk_fast() -> int:
            cleaned = nk.ppg_clean(x, sampling_rate=int(FS))
            nk.ppg_findpeaks(cleaned, sampling_rate=int(FS))
            return n_ppg

        f["nk_clean_findpeaks_samples_per_s"] = best_rate(nk_fast, repeats=3)
        f["nk_ppg_process_samples_per_s"] = n_ppg / _once(
            lambda: nk.ppg_process(x, sampling_rate=int(FS))
        )
        f["heartpy_process_samples_per_s"] = n_ppg / _once(lambda: heartpy.process(x, FS))

    probe = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    imports = json.loads(probe.stdout)
    f["import_numpy_s"] = imports["numpy_s"]
    f["import_numpy_mib"] = imports["numpy_mib"]
    f["import_hub_signal_s"] = imports["signal_s"]
    f["import_hub_signal_mib"] = imports["signal_mib"]

    ratio = f["ppg_samples_per_s"] / f["nk_clean_findpeaks_samples_per_s"]
    f["vs_nk_clean_findpeaks"] = ratio
    f["vs_nk_ppg_process"] = f["ppg_samples_per_s"] / f["nk_ppg_process_samples_per_s"]
    f["share_of_np_add"] = f["pipeline_samples_per_s"] / f["np_add_samples_per_s"]
    result.targets["vs_nk_clean_findpeaks"] = Target(ratio, 5.0)
    result.targets["hr_error_bpm"] = Target(hr_error, 1.0, higher_is_better=False)
    return result
