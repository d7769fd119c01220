"""The uplink core under random sequences of everything that can happen to it: new rows,
outbox answers, connection attempts that work or fail, PUBACKs (ok, error, 0x87), the
hospital's acks and refusals, forged acks, genuine answers replayed or for batches this hub
never sent (a connectivity test's probe, none at all), ack timeouts, dropped connections and
restarts of the hub process (a new core over the same outbox), in any order.

After every step: rows were deleted only after the hospital acknowledged a batch that held
them (checked as each `Acknowledge` is carried out, in `uplink_model`); a batch id is only
ever re-sent with the same content; no unacknowledged batch is forgotten (each is held by the
core, on its way to it from the store, or will be read back at its first connection); the
window is never exceeded; no `Tick` leaves the core wanting another one at once; and an
answer for no batch the core holds, or a second refusal of one send, changes no counter, no
status and nothing held, and is logged once (checked as each is delivered, in `uplink_model`).
At the end, with nothing going wrong any more, every row is delivered and acknowledged.
"""

from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from uplink_model import WALL, World, signed_ack
from uplink_model import settings as uplink_settings

from hub.uplink.events import ConnectFailed, PubAck, Received, Refused, StatusUpdate, Tick
from hub.uplink.policy import NOT_AUTHORIZED, Problem
from hub.wire import topics

FORGER = Ed25519PrivateKey.generate()


class UplinkCoreMachine(RuleBasedStateMachine):
    world: World

    @initialize(
        window=st.integers(1, 5),
        batch_max=st.integers(1, 6),
        batch_seconds=st.sampled_from([0.0, 0.5, 2.0]),
        seed=st.integers(0, 2**16),
    )
    def start(self, window: int, batch_max: int, batch_seconds: float, seed: int) -> None:
        config = uplink_settings(window=window, batch_max=batch_max, batch_seconds=batch_seconds)
        self.world = World(config, seed=seed)

    # ---------------------------------------------------------------- the hub

    @rule(n=st.integers(1, 12), urgent=st.booleans())
    def new_rows(self, n: int, urgent: bool) -> None:
        self.world.new_rows(n, urgent=urgent)

    @precondition(lambda self: bool(self.world.reads))
    @rule()
    def store_carries_out_the_read(self) -> None:
        self.world.store_reads()

    @precondition(lambda self: bool(self.world.reads))
    @rule()
    def outbox_answers(self) -> None:
        self.world.answer_read()

    @precondition(lambda self: bool(self.world.seals))
    @rule()
    def edge_seals(self) -> None:
        self.world.seal()

    @rule()
    def restart(self) -> None:
        """The hub process dies: a read the store carried out keeps its effect (a new batch
        stays marked sent), its answer is lost."""
        self.world.restart()

    @rule(payload=st.binary(min_size=1, max_size=8))
    def status(self, payload: bytes) -> None:
        self.world.feed(StatusUpdate(self.world.now, payload))

    @rule(seconds=st.floats(0.0, 8.0))
    def time_passes(self, seconds: float) -> None:
        w = self.world
        w.now += seconds
        w.feed(Tick(w.now))
        deadline = w.core.deadline()
        assert deadline is None or deadline > w.now, "a Tick that asks for another at once"

    # ---------------------------------------------------------------- the connection

    @precondition(lambda self: self.world.connecting)
    @rule(receive_maximum=st.integers(1, 8))
    def connack(self, receive_maximum: int) -> None:
        self.world.connect(receive_maximum)

    @precondition(lambda self: self.world.connecting)
    @rule(how=st.sampled_from(["unreachable", "tls", "connack-0x86", "closed"]))
    def connect_fails(self, how: str) -> None:
        w = self.world
        w.connecting = False
        if how == "unreachable":
            w.feed(ConnectFailed(w.now, Problem.OUTAGE, "refused"))
        elif how == "tls":
            w.feed(ConnectFailed(w.now, Problem.AUTH, "bad certificate"))
        elif how == "connack-0x86":
            w.feed(Refused(w.now, 0x86))
        else:
            w.closed()

    @precondition(lambda self: self.world.connected)
    @rule()
    def connection_lost(self) -> None:
        self.world.closed()

    @precondition(lambda self: bool(self.world.unpubacked))
    @rule(pick=st.integers(0, 100), reason=st.sampled_from([0, 0, 0, 0x80, NOT_AUTHORIZED]))
    def puback(self, pick: int, reason: int) -> None:
        w = self.world
        ref = w.unpubacked.pop(pick % len(w.unpubacked))
        w.feed(PubAck(w.now, ref, reason))

    # ---------------------------------------------------------------- the hospital

    @precondition(lambda self: self.world.connected and bool(self.world.content))
    @rule(pick=st.integers(0, 1000), ok=st.booleans())
    def hospital_answers(self, pick: int, ok: bool) -> None:
        """An ack or a refusal of any batch ever sent (late, duplicated, from before a
        restart: the broker keeps them in the session)."""
        w = self.world
        sent = sorted(w.content)
        w.hospital_ack(sent[pick % len(sent)], ok=ok, wall=WALL + timedelta(seconds=w.now))

    @precondition(lambda self: self.world.connected and bool(self.world.answers))
    @rule(pick=st.integers(0, 1000))
    def answer_replayed(self, pick: int) -> None:
        """A genuine ack or refusal published again, byte for byte, by another client."""
        w = self.world
        w.deliver(w.answers[pick % len(w.answers)], WALL + timedelta(seconds=w.now))

    @precondition(lambda self: self.world.connected)
    @rule(batch=st.sampled_from(["probe-0f3a9c", "b999", None]), ok=st.booleans())
    def answer_for_a_batch_never_sent(self, batch: str | None, ok: bool) -> None:
        """The ack of `hub test-uplink`'s probe, of another id, a refusal naming no batch."""
        w = self.world
        w.hospital_ack(batch, ok=ok, wall=WALL + timedelta(seconds=w.now))

    @precondition(lambda self: self.world.connected and bool(self.world.content))
    @rule(pick=st.integers(0, 1000))
    def forged_ack(self, pick: int) -> None:
        w = self.world
        sent = sorted(w.content)
        payload = signed_ack(sent[pick % len(sent)], key=FORGER)
        w.feed(Received(w.now, WALL, topics.ack(w.settings.hub), payload))

    # ---------------------------------------------------------------- checks

    @invariant()
    def nothing_unacknowledged_is_forgotten(self) -> None:
        w = self.world
        held = set(w.core.in_flight) | set(w.core.pending) | w.in_transit()
        for batch_id, rows in w.outbox.batches.items():
            if batch_id in w.outbox.acked_batches:
                continue
            assert batch_id in held or w.must_load, f"{batch_id} {rows} forgotten"

    @invariant()
    def no_wake_is_lost(self) -> None:
        w = self.world
        if w.connected and w.outbox.unsent_count() > 0:
            assert w.core.expects_new_rows, "new rows the core will never read"

    @invariant()
    def the_window_is_never_exceeded(self) -> None:
        w = self.world
        assert len(w.core.in_flight) <= w.core.window <= w.settings.window
        assert len(w.in_window()) <= w.core.window

    @invariant()
    def acknowledged_rows_had_the_hospitals_ack(self) -> None:
        w = self.world
        for batch_id in w.outbox.acked_batches:
            assert batch_id in w.hospital_acked

    def teardown(self) -> None:
        if hasattr(self, "world"):
            self.world.drain()


UplinkCoreMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_uplink_core_state_machine = UplinkCoreMachine.TestCase
