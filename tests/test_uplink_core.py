"""The uplink core, one behaviour at a time: inputs in, actions out, no broker, no store."""

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from uplink_model import HOSPITAL, HUB, WALL, World, settings, signed_ack

from hub.model import EventKind
from hub.uplink.backlog import READ_RETRY_S
from hub.uplink.core import Phase
from hub.uplink.events import (
    Acknowledge,
    BatchRead,
    ConfigVerified,
    Connect,
    ConnectFailed,
    CountUnsent,
    Disconnect,
    FetchBatch,
    LoadUnacked,
    PubAck,
    Publish,
    ReadFailed,
    Received,
    Refused,
    Report,
    Seal,
    Sealed,
    SocketOpened,
    StatusUpdate,
    Stop,
    Subscribe,
    Tick,
    UnackedLoaded,
    Warn,
)
from hub.uplink.policy import Problem
from hub.uplink.status import OFFLINE, ONLINE
from hub.wire import topics
from hub.wire.messages import Ack, DownlinkConfig, sign_message


def _connected(**overrides: object) -> World:
    """A world whose core is connected and has read the (empty) outbox once."""
    w = World(settings(**overrides))
    w.connect()
    w.answer_reads()
    return w


def _publishes(actions: list, topic: str = topics.up(HUB)) -> list[Publish]:
    return [a for a in actions if isinstance(a, Publish) and a.topic == topic]


def test_connecting_subscribes_says_online_and_reads_the_outbox_once() -> None:
    w = World(settings(window=16))
    assert w.core.phase is Phase.CONNECTING and w.core.stats.connect_attempts == 1
    w.connect(receive_maximum=6)
    assert w.core.window == 4  # the broker's Receive Maximum, less room for status messages
    assert w.status == [ONLINE]
    assert [type(r.action) for r in w.reads] == [LoadUnacked]  # batches of an earlier run
    w.answer_read()
    assert [type(r.action) for r in w.reads] == [CountUnsent]  # rows stored while away
    w.answer_read()
    assert not w.reads and w.core.deadline() is None  # idle: no timer at all


def test_subscribes_to_acks_and_config() -> None:
    actions = World(settings()).connect()
    assert Subscribe((topics.ack(HUB), topics.config(HUB))) in actions


def test_a_backlog_is_read_in_full_batches_and_the_rest_waits_for_its_age() -> None:
    w = World(settings(batch_max=5, batch_seconds=30.0, window=10, ack_timeout_s=600.0))
    w.outbox.add(12)
    w.connect()
    w.answer_read()  # nothing unacknowledged
    w.answer_read()  # 12 unsent: two full batches at once
    assert isinstance(w.reads[0].action, FetchBatch)
    w.answer_read()
    w.answer_read()
    assert not w.reads  # 2 left: they wait for batch_seconds
    assert w.core.deadline() == pytest.approx(w.now + 30.0)
    w.advance(30.0)
    w.answer_reads()
    assert sorted(w.content) == ["b1", "b2", "b3"]
    assert [len(w.outbox.batches[b]) for b in ("b1", "b2", "b3")] == [5, 5, 2]


def test_an_urgent_wake_closes_a_batch_at_once() -> None:
    w = _connected(batch_seconds=3600.0)
    w.new_rows(1, urgent=False)
    assert not w.reads  # waits up to an hour for company
    w.new_rows(1, urgent=True)
    assert isinstance(w.reads[0].action, FetchBatch)
    w.answer_read()
    assert w.outbox.batches["b1"] == (0, 1)


def test_a_wake_during_a_read_is_not_lost() -> None:
    w = _connected(batch_seconds=0.0)
    w.new_rows(1)
    w.store_reads()  # the batch is taken before the next row arrives
    w.new_rows(1)
    w.answer_read()  # a short batch: without the wake the core would think the outbox empty
    assert isinstance(w.reads[0].action, FetchBatch)
    w.answer_read()
    assert w.outbox.batches == {"b1": (0,), "b2": (1,)}


def test_the_window_holds_batches_until_the_hospital_acks_them() -> None:
    w = _connected(window=2, batch_max=1, batch_seconds=0.0)
    w.new_rows(3)
    w.answer_reads()
    assert w.core.in_flight == ("b1", "b2")  # b3 is not even read yet
    w.feed(PubAck(w.now, "b1", 0))  # the broker's PUBACK frees nothing
    assert not w.reads
    actions = w.hospital_ack("b1")
    assert Acknowledge("b1") in actions and w.outbox.acked == {0}
    assert isinstance(w.reads[0].action, FetchBatch)


def test_only_a_verified_ack_deletes_rows() -> None:
    w = _connected(batch_seconds=0.0)
    w.new_rows(2)
    w.answer_reads()
    forged = signed_ack("b1", key=Ed25519PrivateKey.generate())
    actions = w.feed(Received(w.now, WALL, topics.ack(HUB), forged))
    assert [type(a) for a in actions] == [Warn]
    other_hub = sign_message(Ack("hub-b", "b1", ok=True).body(), HOSPITAL)
    assert [type(a) for a in w.feed(Received(w.now, WALL, topics.ack(HUB), other_hub))] == [Warn]
    assert w.outbox.acked == set() and w.core.in_flight == ("b1",)
    w.hospital_ack("b1")
    assert w.outbox.acked == {0, 1} and w.core.last_ack == WALL.isoformat()


def test_a_refused_batch_stays_and_goes_again_with_the_same_id() -> None:
    w = _connected(batch_seconds=0.0, ack_timeout_s=3.0)
    w.new_rows(2)
    w.answer_reads()
    first = w.content["b1"]
    actions = w.hospital_ack("b1", ok=False)
    alarm = next(a for a in actions if isinstance(a, Report))
    assert alarm.kind is EventKind.ALERT and alarm.problem is Problem.REFUSED
    assert w.core.problem is Problem.REFUSED and w.outbox.acked == set()
    w.now += 3.0
    again = _publishes(w.feed(Tick(w.now)))
    assert [(p.ref, p.payload) for p in again] == [("b1", first)]
    assert w.core.stats.resent == 1
    actions = w.hospital_ack("b1")
    assert Report(EventKind.STATUS, "uplink connected", Problem.NONE) in actions


def test_an_ack_timeout_resends_the_same_batch() -> None:
    w = _connected(batch_seconds=0.0, ack_timeout_s=5.0)
    w.new_rows(1)
    w.answer_reads()
    assert w.core.deadline() == pytest.approx(w.now + 5.0)
    w.advance(4.9)
    assert w.core.stats.resent == 0
    w.advance(0.1)
    assert w.core.stats.resent == 1 and w.core.stats.batches_sent == 2
    assert w.outbox.batches == {"b1": (0,)}  # no new batch for the same rows


def test_puback_errors() -> None:
    w = _connected(batch_seconds=0.0, auth_retry_s=600.0)
    w.new_rows(2)
    w.answer_reads()
    actions = w.feed(PubAck(w.now, "b1", 0x80))
    assert [type(a) for a in actions] == [Warn]  # waits for the ack timeout
    assert w.core.in_flight == ("b1",)
    actions = w.feed(PubAck(w.now, "b1", 0x87))
    assert [type(a) for a in actions] == [Report, Disconnect]
    assert actions[0].kind is EventKind.ALERT and "0x87" in actions[0].message
    assert w.core.problem is Problem.NOT_AUTHORIZED and w.core.phase is Phase.WAITING
    assert w.core.retry_in >= 0.75 * 600.0  # an alarm, not a retry loop
    assert w.core.stats.refusals == {"puback-0x80": 1, "puback-0x87": 1}


def test_after_a_lost_connection_what_was_in_flight_goes_first_with_its_id() -> None:
    w = _connected(batch_max=1, batch_seconds=0.0, window=3, backoff_base_s=1.0)
    w.new_rows(2)
    w.answer_reads()
    sent = dict(w.content)
    w.closed()
    assert w.core.problem is Problem.OUTAGE
    assert 0.0 <= w.core.retry_in <= 2.0  # full jitter up to base·2¹
    w.advance(w.core.retry_in)
    assert w.connecting and w.core.stats.connect_attempts == 2
    w.connect()
    assert w.core.in_flight == ("b1", "b2") and w.core.stats.resent == 2
    assert w.content == sent
    assert isinstance(w.reads[0].action, CountUnsent)  # no LoadUnacked: nothing was lost


def test_backoff_grows_with_full_jitter_and_auth_failures_retry_slowly() -> None:
    w = World(settings(backoff_base_s=1.0, backoff_max_s=8.0, auth_retry_s=600.0))
    tops = []
    for _ in range(6):
        w.feed(ConnectFailed(w.now, Problem.OUTAGE, "refused"))
        tops.append(w.core.retry_in)
        assert w.core.deadline() == pytest.approx(w.now + w.core.retry_in)
        w.advance(w.core.retry_in)
        assert w.connecting
    assert all(0.0 <= t <= min(8.0, 2.0**n) for n, t in enumerate(tops, 1))
    reports = [r for r in w.reports if r.problem is Problem.OUTAGE]
    assert len(reports) == 1  # reported once, not on every attempt
    w.feed(Refused(w.now, 0x86))
    assert w.core.problem is Problem.AUTH and w.core.retry_in >= 450.0


def test_a_connection_closed_before_connack_is_an_auth_problem() -> None:
    w = World(settings())
    w.closed()  # TLS 1.3: the refusal of the certificate arrives as an alert on first read
    assert w.core.problem is Problem.AUTH


def test_no_connack_within_the_timeout_is_an_outage() -> None:
    w = World(settings(connect_timeout_s=4.0))
    w.feed(SocketOpened(w.now))
    assert w.core.deadline() == pytest.approx(w.now + 4.0)
    w.now += 4.0
    actions = w.feed(Tick(w.now))
    assert Disconnect() in actions and w.core.problem is Problem.OUTAGE


def test_status_waits_for_the_connection_and_is_published_again_after_it() -> None:
    w = World(settings())
    w.feed(StatusUpdate(w.now, b"s1"))
    w.feed(StatusUpdate(w.now, b"s2"))  # only the latest waits
    w.connect()
    assert w.status == [ONLINE, b"s2"]
    w.feed(StatusUpdate(w.now, b"s3"))
    w.closed()
    w.advance(w.core.retry_in)
    w.connect()
    assert w.status == [ONLINE, b"s2", b"s3", ONLINE, b"s3"]
    actions = w.feed(Stop(w.now))
    assert actions == [Publish(topics.status(HUB), OFFLINE, retain=True), Disconnect()]
    assert w.core.stopped and w.core.deadline() is None


def test_a_restart_sends_unacknowledged_batches_again_and_skips_those_acked_meanwhile() -> None:
    """An ack heard while the earlier run's batches are read back counts once a batch read
    back claims it; one that no batch claims is logged as unexpected, and that is all."""
    w = _connected(batch_max=1, batch_seconds=0.0, window=3)
    w.new_rows(3)
    w.answer_reads()
    w.restart()
    w.connect()
    w.store_reads()  # LoadUnacked carried out: b1, b2, b3
    # an ack the broker kept for us arrives meanwhile, and one for a batch we do not have
    assert w.hospital_ack("b2") == [] and w.hospital_ack("b7") == []
    loaded = w.feed(w.reads.popleft().answer)
    assert Acknowledge("b2") in loaded and w.core.last_ack == WALL.isoformat()
    assert [a.message for a in loaded if isinstance(a, Warn)] == [
        "ignored an unexpected ack for batch b7: nothing in flight here awaits it (a duplicate, "
        "a replay, or a connectivity test's probe)"
    ]
    assert w.core.in_flight == ("b1", "b3")
    assert w.core.stats.resent == 2


def test_stale_store_answers_do_not_duplicate_a_batch() -> None:
    w = _connected()
    sealed = Sealed("b9", 9, 1, b"x")
    w.feed(UnackedLoaded(w.now, (sealed,)))
    w.feed(UnackedLoaded(w.now, (sealed,)))
    assert w.core.in_flight == ("b9",)


def _config(version: int, patient: str = "pseudo-1", key: Ed25519PrivateKey = HOSPITAL) -> bytes:
    config = DownlinkConfig(hub=HUB, version=version, patient=patient, pathway="copd")
    return sign_message(config.body(), key)


def _config_in(w: World, payload: bytes) -> list:
    return w.feed(Received(w.now, WALL, topics.config(HUB), payload))


def test_downlink_configs_are_verified_and_only_newer_ones_handed_on() -> None:
    w = _connected()
    v1 = _config(1)
    [verified] = _config_in(w, v1)
    assert isinstance(verified, ConfigVerified) and verified.raw == v1
    assert verified.config.patient == "pseudo-1"
    assert _config_in(w, v1) == []  # the retained copy again after a reconnect
    [forged] = _config_in(w, _config(5, "intruder", Ed25519PrivateKey.generate()))
    assert isinstance(forged, Report) and "bad signature" in forged.message
    [stale] = _config_in(w, _config(1, "stale"))
    assert isinstance(stale, Report) and "not newer" in stale.message
    [v2] = _config_in(w, _config(2, "pseudo-2"))
    assert isinstance(v2, ConfigVerified) and v2.config.version == 2


def test_the_config_applied_before_a_restart_passes_silently() -> None:
    w = World(replace(settings(), applied_config_version=3))
    w.connect()
    assert _config_in(w, _config(3)) == []  # retained: what the daemon already applied
    assert "not newer" in _config_in(w, _config(2))[0].message
    assert isinstance(_config_in(w, _config(4))[0], ConfigVerified)


def test_an_unknown_input_is_refused() -> None:
    w = World(settings())
    with pytest.raises(TypeError):
        w.core.handle(Connect())  # type: ignore[arg-type]


def test_a_failed_outbox_read_is_reported_and_retried_later_with_a_fresh_load() -> None:
    w = _connected(batch_seconds=0.0)
    w.new_rows(1)
    w.reads.clear()  # the store raised: the edge answers with ReadFailed
    [report] = w.feed(ReadFailed(w.now, "database is locked"))
    assert report.kind is EventKind.ERROR and "database is locked" in report.message
    assert not w.reads and w.core.deadline() == pytest.approx(w.now + READ_RETRY_S)
    w.advance(READ_RETRY_S)
    assert isinstance(w.reads[0].action, LoadUnacked)  # the failed read may have made a batch
    w.drain()


def test_the_next_read_is_asked_for_before_the_seal_so_they_overlap() -> None:
    w = _connected(batch_max=2, batch_seconds=0.0, window=4)
    w.new_rows(5)
    w.store_reads()
    read = w.reads.popleft().answer
    assert isinstance(read, BatchRead) and read.batch is not None
    assert [type(a) for a in w.core.handle(read)] == [FetchBatch, Seal]
    assert w.core.in_flight == () and w.core.pending == ()  # b1 is with the sealer


def _replayed(w: World, payload: bytes) -> list:
    return w.feed(Received(w.now, WALL.replace(hour=18), topics.ack(HUB), payload))


def test_a_replayed_ack_changes_no_counter_no_status_and_is_logged_once() -> None:
    w = _connected(batch_seconds=0.0, batch_max=1, window=2)
    w.new_rows(2)
    w.answer_reads()
    w.hospital_ack("b1")
    genuine = w.answers[-1]  # as the hospital signed it
    stats, problem = replace(w.core.stats), w.core.problem
    assert w.core.last_ack == WALL.isoformat() and w.core.in_flight == ("b2",)
    first, again = _replayed(w, genuine), _replayed(w, genuine)
    assert [type(a) for a in first] == [Warn] and "unexpected ack for batch b1" in first[0].message
    assert again == []  # logged once
    assert w.core.last_ack == WALL.isoformat()  # not the replay's time: an outage stays visible
    assert w.core.stats == stats and w.core.problem is problem
    assert w.core.in_flight == ("b2",) and w.outbox.acked == {0}


def test_a_refusal_without_a_batch_id_raises_no_alert() -> None:
    w = _connected(batch_seconds=0.0)
    w.new_rows(1)
    w.answer_reads()
    refusal = signed_ack(None, ok=False, reason="bad-envelope")
    first, again = _replayed(w, refusal), _replayed(w, refusal)
    assert [type(a) for a in first] == [Warn] and "no batch id" in first[0].message
    assert again == []
    assert w.core.problem is Problem.NONE and not w.core.stats.refusals
    assert not [r for r in w.reports if r.kind is EventKind.ALERT]


def test_the_ack_of_a_connectivity_probe_is_not_counted() -> None:
    """`hub test-uplink` sends a probe batch (hub.diagnose.probe) whose ack the running
    uplink hears too, as the hospital acks it: stored 0, a batch id the core never sent."""
    w = _connected(batch_seconds=0.0)
    w.new_rows(1)
    w.answer_reads()
    probe = sign_message(Ack(HUB, "probe-3f1c", ok=True, stored=0).body(), HOSPITAL)
    assert [type(a) for a in _replayed(w, probe)] == [Warn]
    assert w.core.last_ack is None and w.core.stats.acked_batches == 0
    assert w.core.in_flight == ("b1",)


def test_a_refusal_counts_once_per_send() -> None:
    w = _connected(batch_seconds=0.0, ack_timeout_s=3.0)
    w.new_rows(1)
    w.answer_reads()
    w.hospital_ack("b1", ok=False)
    assert _replayed(w, signed_ack("b1", ok=False, reason="bad-envelope"))[0].message.startswith(
        "ignored an unexpected refusal (bad-envelope) for batch b1"
    )
    assert w.core.stats.refusals == {"bad-envelope": 1}
    w.advance(3.0)  # re-sent: its refusal counts again
    w.hospital_ack("b1", ok=False)
    assert w.core.stats.refusals == {"bad-envelope": 2}
