"""`hub ui --status`: the patient's status screen (Textual), for the Pi's own screen on tty1.

Large, high-contrast blocks of plain text, worst first, each with a mark ("!!", "!", "i",
"OK") so colour is never the only signal; keyboard only (R refresh, L language, Q quit).
It asks the daemon for the status every `poll_s` seconds and repaints only when the words
change: no animation, no busy refresh (it runs for months on a Pi). The decisions are the
pure modules `statements`, `prompts` and `texts`; this is the edge that shows and speaks them.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from hub.ui import texts
from hub.ui.client import ControlClient, OpRefused, Unavailable
from hub.ui.i18n import Language, translator
from hub.ui.prompts import Occurrences, new_prompts, occurrences
from hub.ui.speech import Speaker
from hub.ui.statements import Severity, Statement, Unreachable, statements

POLL_S: Final = 15.0


class StatusSource(Protocol):
    """Where the status comes from: the control-socket client (`ControlClient`)."""

    async def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class StatusApp(App[None]):
    CSS = """
    Screen { background: black; color: white; }
    #title { text-style: bold; padding: 0 2; height: 1; background: white; color: black; }
    #statements { padding: 0 1; }
    .statement { text-style: bold; padding: 1 2; margin-top: 1; width: 100%; }
    .ok { background: #00c853; color: black; }
    .info { background: #003a8c; color: white; }
    .warn { background: #ffd700; color: black; }
    .problem { background: #b00020; color: white; }
    #keys { dock: bottom; height: 1; padding: 0 2; background: white; color: black; }
    """
    BINDINGS: Final = [
        Binding("r", "refresh_status", show=False),
        Binding("l", "switch_language", show=False),
        Binding("q", "quit", show=False),
    ]

    def __init__(
        self,
        source: StatusSource,
        *,
        language: Language = "nb",
        tz: tzinfo = UTC,
        poll_s: float = POLL_S,
        speaker: Speaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.language: Language = language
        self.tz = tz
        self.poll_s = poll_s
        self.speaker = speaker
        self.clock = clock or SystemClock()
        self.said: list[Statement] = []
        self.checked: datetime | None = None
        self._occurrences: Occurrences | None = None
        self._shown: tuple[tuple[Severity, str], ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield VerticalScroll(id="statements")
        yield Static(id="keys")

    async def on_mount(self) -> None:
        """The title and keys paint at once; the statements when the first status is in (a
        daemon slow to answer never leaves the screen blank)."""
        await self._show()
        self.call_after_refresh(self.action_refresh_status)
        self.set_interval(self.poll_s, self.action_refresh_status)

    async def action_refresh_status(self) -> None:
        status: object
        try:
            status = await self.source.status()
        except Unavailable as exc:
            status = Unreachable[exc.reason.name]
        except OpRefused:
            status = Unreachable.NO_ANSWER
        self.checked = self.clock.now()
        self.said = statements(status, self.checked)
        if not isinstance(status, Unreachable):
            self._speak(occurrences(status, self.said))
        await self._show()

    async def action_switch_language(self) -> None:
        self.language = "en" if self.language == "nb" else "nb"
        if self.speaker is not None:
            self.speaker.language = self.language
        await self._show()

    def lines(self) -> list[tuple[Severity, str]]:
        """What the screen says now: each statement's severity and its sentence."""
        tr, now = translator(self.language), self.checked or self.clock.now()
        return [(s.severity, texts.statement(s, tr, now, self.tz)) for s in self.said]

    def _speak(self, found: Occurrences) -> None:
        if self.speaker is not None:
            tr = translator(self.language)
            for prompt in new_prompts(self._occurrences, found):
                self.speaker.say(texts.prompt(prompt, tr))
        self._occurrences = found

    async def _show(self) -> None:
        tr = translator(self.language)
        self.title = tr.gettext(texts.TITLE)  # the terminal window's, over SSH
        updated = f"{self.checked.astimezone(self.tz):%H:%M}" if self.checked else "--:--"
        self.query_one("#title", Static).update(
            f"{self.title}   {tr.gettext(texts.UPDATED).format(time=updated)}"
        )
        self.query_one("#keys", Static).update(tr.gettext(texts.KEYS))
        lines = tuple(self.lines())
        if lines == self._shown:
            return  # the same words: the statements are not rebuilt
        self._shown = lines
        box = self.query_one("#statements", VerticalScroll)
        await box.remove_children()
        await box.mount_all(
            Static(
                f"{texts.MARK[severity]}  {text}",
                classes=f"statement {severity.name.lower()}",
                markup=False,
            )
            for severity, text in lines
        )

    async def on_unmount(self) -> None:
        if self.speaker is not None:
            await self.speaker.stop()
        await self.source.close()


def run(socket: Path, language: Language, tz: tzinfo, *, speak: bool) -> int:
    """`hub ui --status` until Q (or the terminal closes)."""
    speaker = Speaker(language) if speak else None
    StatusApp(ControlClient(socket), language=language, tz=tz, speaker=speaker).run()
    return 0
