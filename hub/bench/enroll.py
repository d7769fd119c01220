"""`hub bench enroll`: the hospital's `enroll` per hub over a region's worth of requests.

1,000 hubs' requests are made first (keys and CSRs, as each hub would make its own); then
each is enrolled through `hub.hospital.authority.enroll` against a hospital directory made
by `init`, with its Mosquitto running from the config `init` wrote, so every enrollment
also rewrites the ACL file and reloads the broker (SIGHUP through its pid file).

Figures: milliseconds per enrollment (mean, p95), the mean of the first and of the last 100
(the ACL grows with the fleet; their ratio shows how enrollment scales), and the peer: the
certificate signature alone, measured in the same run.
Targets: under 50 ms per hub (the issue's ceiling for this machine), and the last 100
costing at most twice the first 100.
Also `identity_path_ms`: `hub identity init` to an imported identity (init, request, enroll
against the 1,000-hub hospital, import), the median of 20 hubs. The time from there to the
first acknowledged reading is the uplink's (its first batch), not enrollment's.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hub.bench import BenchResult, Target
from hub.hospital import authority
from hub.hospital.ca import HubPolicy, sign_hub
from hub.hospital.layout import HospitalDir, Settings
from hub.identity import ops
from hub.identity.files import IdentityFiles
from hub.identity.ops import build_request
from hub.testbed.broker import MOSQUITTO, free_port
from hub.wire.enrollment import decode_request

HUBS = 1000


def _requests(n: int) -> list[bytes]:
    return [
        build_request(f"hub-{i:05d}", "bench", ec.generate_private_key(ec.SECP256R1()),
                      ed25519.Ed25519PrivateKey.generate()).encode()
        for i in range(n)
    ]  # fmt: skip


def _hospital(root: Path, now: datetime) -> tuple[HospitalDir, subprocess.Popen[bytes]]:
    place = HospitalDir(root)
    port = free_port()
    settings = Settings("127.0.0.1", port, "127.0.0.1", 397, root / "broker" / "mosquitto.pid",
                        os.environ.get("USER") or "root")  # fmt: skip
    authority.init(place, settings, ["127.0.0.1"], now)
    broker = subprocess.Popen([MOSQUITTO, "-c", str(place.broker / "mosquitto.conf")],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while not settings.pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return place, broker


def _identity_path(place: HospitalDir, data_dir: Path, now: datetime) -> float:
    """Milliseconds from `hub identity init` to an imported identity, through the same
    functions as the commands (the hub's keys, its request, enroll, the checked import)."""
    files = IdentityFiles(data_dir)
    start = time.perf_counter()
    ops.init(files)
    ops.request(files, data_dir.name, "bench", None)
    enrolled, _ = authority.enroll(place, files.pending_request.read_bytes(), now)
    ops.import_response(files, data_dir.name, enrolled.response, now, None)
    return (time.perf_counter() - start) * 1000


def run() -> BenchResult:
    now = datetime.now(UTC)
    requests = _requests(HUBS)
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-enroll-") as tmp:
        place, broker = _hospital(Path(tmp) / "hospital", now)
        try:
            for request in requests:
                start = time.perf_counter()
                authority.enroll(place, request, now)
                times.append(time.perf_counter() - start)
            acl_bytes = (place.broker / "acl.conf").stat().st_size
            path_ms = [_identity_path(place, Path(tmp) / f"hub-{i}", now) for i in range(20)]
            issuer = authority.load_issuer(place)
            csrs = [decode_request(r).csr for r in requests[:200]]
            start = time.perf_counter()
            for i, csr in enumerate(csrs):
                sign_hub(issuer, csr, f"hub-{i:05d}", HubPolicy(), now)
            sign_ms = (time.perf_counter() - start) / len(csrs) * 1000
        finally:
            os.kill(broker.pid, signal.SIGTERM)
            broker.wait(timeout=20)
    ms = [t * 1000 for t in times]
    first, last = statistics.mean(ms[:100]), statistics.mean(ms[-100:])
    result = BenchResult("enroll")
    result.figures.update(
        hubs=HUBS,
        enroll_ms_mean=statistics.mean(ms),
        enroll_ms_p95=statistics.quantiles(ms, n=20)[-1],
        first_100_ms=first,
        last_100_ms=last,
        sign_only_ms=sign_ms,
        acl_bytes_at_end=acl_bytes,
        identity_path_ms=statistics.median(path_ms),
    )
    result.targets["enroll_ms_per_hub"] = Target(statistics.mean(ms), 50.0, higher_is_better=False)
    result.targets["last_100_over_first_100"] = Target(last / first, 2.0, higher_is_better=False)
    return result
