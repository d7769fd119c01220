"""`hub hospital revoke`: the broker refuses the hub (its ACL at once on the open connection,
the CRL on the next handshake), the receiver refuses its envelopes with a clear reason, and
the other hubs keep delivering. Real Mosquitto reloaded by SIGHUP through its pid file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from enrollment_support import (
    HubConnection,
    envelope,
    give_identity,
    hospital_with_broker,
    hub_command,
    receiver,
    tls_accepted,
    write_hub_config,
)
from mqtt_support import reading_ids, readings
from waiting import wait_for

from hub.keyfiles import load_x25519_private
from hub.receiver.db import ReceiverDb
from hub.receiver.enrolled import EnrollmentDir
from hub.receiver.service import Ingest
from hub.wire import topics

pytestmark = pytest.mark.slow
HUBS = ("hub-a", "hub-b")


def test_revoke_refuses_the_hub_at_broker_and_receiver_while_others_deliver(
    tmp_path: Path,
) -> None:
    with hospital_with_broker(tmp_path / "hospital") as broker:
        place = broker.place
        data = {hub: tmp_path / hub / "data" for hub in HUBS}
        for hub in HUBS:
            give_identity(place, write_hub_config(tmp_path / hub, hub))
        enc = place.key("hospital.enc.pub")
        with receiver(place, broker.port, tmp_path / "receiver.db") as rx:
            conns = {hub: HubConnection(data[hub], hub, broker.port) for hub in HUBS}
            try:
                for hub in HUBS:
                    sealed = envelope(data[hub], hub, readings(2), enc)
                    assert conns[hub].publish(topics.up(hub), sealed) == "Success"
                wait_for(lambda: len(set(reading_ids(rx.ingest.db))) == 4, "4 readings stored")

                out = hub_command("hospital", "revoke", "hub-a", "--dir", place.root).stdout
                assert f"broker reloaded (pid {broker.pid})" in out

                # the broker: the open connection is closed at once (the dynamic-security
                # plugin, told by the revoke, drops the hub's client); what got through before
                # the receiver refuses
                wait_for(lambda: not conns["hub-a"].client.is_connected(),
                         "the broker to close hub-a's connection")  # fmt: skip
                # ... and a new handshake with the revoked certificate fails
                current = data["hub-a"] / "identity" / "current"
                assert not tls_accepted(current / "ca.crt", current / "hub.crt",
                                        current / "tls.key", broker.port)  # fmt: skip
                # the other hub keeps delivering
                sealed = envelope(data["hub-b"], "hub-b", readings(3), enc)
                assert conns["hub-b"].publish(topics.up("hub-b"), sealed) == "Success"
                wait_for(lambda: len(set(reading_ids(rx.ingest.db))) == 7,
                         "hub-b's readings after the revocation")  # fmt: skip
                assert set(rx.ingest.refused) <= {"revoked-hub"}
            finally:
                for conn in conns.values():
                    conn.close()
            # the receiver that was running took the revocation from the enrollment directory
            assert "hub-a" in rx.ingest.revoked and "hub-a" not in rx.ingest.hub_keys

        # the CRL the broker reloaded lists the hub's certificate
        crl = x509.load_pem_x509_crl(place.crl.read_bytes())
        cert = x509.load_pem_x509_certificate((current / "hub.crt").read_bytes())
        assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None

    # the receiver: an envelope still in flight from the revoked hub is refused, by name
    ingest = Ingest(ReceiverDb(tmp_path / "late.db"), {},
                    [load_x25519_private(place.key("hospital.enc.key"))])  # fmt: skip
    ingest.update_enrollment(EnrollmentDir(place.enrollment))
    late_a = envelope(data["hub-a"], "hub-a", readings(1), enc)
    late_b = envelope(data["hub-b"], "hub-b", readings(1), enc)
    acks = ingest.handle([(topics.up("hub-a"), late_a), (topics.up("hub-b"), late_b)],
                         datetime.now(UTC))  # fmt: skip
    assert (acks[0].ok, acks[0].reason) == (False, "revoked-hub")
    assert "revoked by the hospital" in acks[0].detail
    assert acks[1].ok and acks[1].stored > 0
    ingest.db.close()

    # and `revoke` again says so instead of doing it twice
    again = hub_command("hospital", "revoke", "hub-a", "--dir", place.root).stdout
    assert "already revoked" in again
