"""When to read the outbox, without ever counting it on a timer (pure; part of the core).

The core learns of new rows from wakes (the daemon stored some), from one count per
connection, and from the batches it reads: a short batch means the outbox held no more, a full
one that there may be more. The outbox is read one request at a time; a wake that arrives
while a read is outstanding is remembered, since that read may not have seen its rows.
"""

from __future__ import annotations

from hub.uplink.events import CountUnsent, FetchBatch, LoadUnacked
from hub.uplink.policy import batch_due

READ_RETRY_S = 5.0  # after an outbox read failed

OutboxRead = FetchBatch | LoadUnacked | CountUnsent


class Backlog:
    def __init__(self, batch_max: int, batch_seconds: float) -> None:
        self.batch_max = batch_max
        self.batch_seconds = batch_seconds
        self.reading = False  # a read is outstanding
        self.need_load = True  # batches of an earlier run: read at the first connection
        self.need_count = False
        self._rows = 0  # a lower bound of rows in no batch yet
        self._waiting_since: float | None = None  # since when the oldest of them waits
        self._urgent = False
        self._woken_at: float | None = None  # a wake while a read was outstanding
        self._paused_until = 0.0

    @property
    def expected(self) -> bool:
        """Rows may be waiting that no batch holds yet, or a read will tell."""
        return self._rows > 0 or self.reading or self.need_count

    def wake(self, now: float, urgent: bool) -> None:
        self._rows = max(self._rows, 1)
        if self._waiting_since is None:
            self._waiting_since = now
        self._urgent = self._urgent or urgent
        if self.reading and self._woken_at is None:
            self._woken_at = now

    def counted(self, now: float, count: int) -> None:
        """`count` rows are in no batch (as `CountUnsent` answered)."""
        self.reading = False
        if count > 0:
            self._rows = count
            if self._waiting_since is None:
                self._waiting_since = now
        else:
            self._nothing_new()
        self._woken_at = None

    def fetched(self, count: int) -> None:
        """A `FetchBatch` answered with a batch of `count` rows (0: nothing was new)."""
        self.reading = False
        if count < self.batch_max:  # a short batch: the outbox held no more
            self._nothing_new()
        else:
            self._rows = max(1, self._rows - count)
        self._woken_at = None

    def loaded(self) -> None:
        self.reading = False

    def failed(self, now: float) -> None:
        """A read failed: pause reads, then load and count again (the failed read may have put
        rows in a batch that never reached the core)."""
        self.reading = False
        self.need_load = self.need_count = True
        self._paused_until = now + READ_RETRY_S

    def next_read(self, now: float, room: bool) -> OutboxRead | None:
        """The read to ask for now, if any; `room`: the window could take another batch."""
        if self.reading or now < self._paused_until:
            return None
        read = self._choose(now, room)
        self.reading = read is not None
        return read

    def deadline(self, room: bool) -> float | None:
        """When a read becomes due by itself (None: only after a wake or an answer)."""
        if self.reading:
            return None
        if self.need_load or self.need_count:
            return self._paused_until
        if self._rows <= 0 or not room:
            return None
        return max(self._since() + self.batch_seconds, self._paused_until)

    def _choose(self, now: float, room: bool) -> OutboxRead | None:
        if self.need_load:
            self.need_load = False
            return LoadUnacked()
        if self.need_count:
            self.need_count = False
            return CountUnsent()
        if not room or self._rows <= 0:
            return None
        aged = now >= self._since() + self.batch_seconds  # the same sum as `deadline`
        if not batch_due(self._rows, batch_max=self.batch_max, aged=aged, urgent=self._urgent):
            return None
        self._urgent = False
        return FetchBatch(self.batch_max)

    def _since(self) -> float:
        """When the oldest known row began waiting (always set while rows are known: the
        fallback only keeps `deadline` and `next_read` agreeing)."""
        return self._waiting_since if self._waiting_since is not None else 0.0

    def _nothing_new(self) -> None:
        """The last read found every row taken: only a wake during it says otherwise."""
        self._rows = 0 if self._woken_at is None else 1
        self._waiting_since = self._woken_at
        self._urgent = self._urgent and self._woken_at is not None
