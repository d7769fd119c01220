"""`hub identity renew` across a certificate's expiry: readings go on arriving before, during
and after the renewal, the expired certificate is refused by the broker, the hub reconnects
with the new one (read through `identity/current`), and no reading is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from enrollment_support import (
    files_under,
    hospital_with_broker,
    hub_command,
    hub_loop,
    receiver,
    tls_accepted,
    write_hub_config,
)
from mqtt_support import reading_ids, readings
from waiting import wait_for

from hub.hospital import authority
from hub.identity import IdentityError, ops
from hub.identity.files import IdentityFiles
from hub.model import Reading

pytestmark = pytest.mark.slow
LIFETIME = timedelta(seconds=25)


def test_renew_across_expiry_loses_nothing(tmp_path: Path) -> None:
    hub_toml = write_hub_config(tmp_path / "hub-r", "hub-r")
    files = IdentityFiles(tmp_path / "hub-r" / "data")
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place = broker.place
        hub_command("identity", "init", "--config", hub_toml)
        hub_command("identity", "request", "--config", hub_toml)
        # a first certificate that runs out soon: issued as if the policy's 397 days began
        # almost that long ago
        issued = datetime.now(UTC) - timedelta(days=397) + LIFETIME
        done, _ = authority.enroll(place, files.pending_request.read_bytes(), issued)
        response = tmp_path / "first.response.json"
        response.write_bytes(done.response)
        hub_command("identity", "import", response, "--config", hub_toml)
        first_dir = files.current.resolve()
        first = x509.load_pem_x509_certificate((first_dir / "hub.crt").read_bytes())

        sent: list[Reading] = []
        with (
            receiver(place, broker.port, tmp_path / "receiver.db") as rx,
            hub_loop(hub_toml) as hub,
        ):

            def feed(n: int) -> None:
                batch = readings(n, start=len(sent))
                # urgent: committed at once, so the wake finds the rows (a plain add's wake
                # can come before the store's timed commit and be lost: reported separately)
                hub.add(batch, urgent=True)
                sent.extend(batch)

            hub.start()
            feed(20)
            wait_for(lambda: hub.unacked() == 0, "readings on the first certificate")

            # renew while the first certificate still works; nothing changes until import
            before = files_under(files.current.resolve())
            hub_command("identity", "renew", "--config", hub_toml, "--out", tmp_path / "r2.json")
            assert files_under(files.current.resolve()) == before
            feed(20)
            hub_command("hospital", "enroll", tmp_path / "r2.json", "--dir", place.root)
            hub_command("identity", "import", tmp_path / "r2.response.json",
                        "--config", hub_toml)  # fmt: skip
            assert files.current.resolve() != first_dir
            feed(20)
            wait_for(lambda: hub.unacked() == 0, "readings across the renewal")

            # the first certificate expires; the broker refuses it from then on
            expired = first.not_valid_after_utc + timedelta(seconds=1)
            wait_for(lambda: datetime.now(UTC) > expired, "the first certificate to expire",
                     timeout=LIFETIME.total_seconds() + 60)  # fmt: skip
            assert not tls_accepted(first_dir / "ca.crt", first_dir / "hub.crt",
                                    first_dir / "tls.key", broker.port)  # fmt: skip
            # a broker restart makes the hub reconnect: with the new certificate it gets in
            broker.stop()
            feed(20)  # stored on the hub while the broker is away
            broker.start()
            feed(20)
            wait_for(lambda: hub.unacked() == 0, "every reading acknowledged after the reconnect")
            assert set(reading_ids(rx.ingest.db)) == {r.id for r in sent}
            assert rx.ingest.refused == {}

        # the renewed identity is what `show` reports
        shown = ops.show(files, "hub-r", datetime.now(UTC))
        assert shown["state"] == "configured" and shown["certificate"]["days_left"] >= 396


def test_renew_needs_an_imported_identity(tmp_path: Path) -> None:
    hub_toml = write_hub_config(tmp_path / "hub-n", "hub-n")
    hub_command("identity", "init", "--config", hub_toml)
    with pytest.raises(IdentityError, match="no imported identity to renew"):
        ops.renew(IdentityFiles(tmp_path / "hub-n" / "data"))
