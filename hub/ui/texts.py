"""The words: a `Statement` or a spoken `Prompt` rendered in the reader's language.

Every text is a msgid marked with `N_` here (the catalogues' single source, checked by the
tests) and looked up in the `gettext` catalogue at render time; times are shown in the
hub's time zone. Pure: catalogue, statement and zone in, text out.
"""

from __future__ import annotations

import gettext
from datetime import datetime, tzinfo
from typing import Final

from hub.ui.prompts import Prompt
from hub.ui.statements import Say, Severity, Statement


def N_(message: str) -> str:
    """Marks a msgid for the catalogues; the lookup happens where it is rendered."""
    return message


SAY: Final[dict[Say, str]] = {
    Say.ALL_WELL: N_("All is well."),
    Say.NOT_SET_UP: N_("The hub is not set up yet. A technician will set it up."),
    Say.HUB_NOT_RUNNING: N_(
        "The hub is not running right now. If this lasts more than an hour, please call the clinic."
    ),
    Say.NO_ACCESS: N_("This screen may not read the hub's status. Please call the clinic."),
    Say.NO_ANSWER: N_("The hub does not answer right now. It will be asked again shortly."),
    Say.UNREADABLE: N_("The hub's status cannot be shown. Please call the clinic."),
    Say.CONTACT_CLINIC: N_("Please contact the clinic."),
    Say.NEEDS_SERVICE: N_("The hub needs service. Please call the clinic."),
    Say.DELIVERY_REFUSED: N_(
        "The hub cannot send your measurements to the hospital. Please call the clinic."
    ),
    Say.MEASUREMENT_MISSED: N_("A planned measurement was missed ({when})."),
    Say.BATTERY_LOW: N_("The battery of the {device} is low. Please change or charge it."),
}
NO_CONNECTION_SINCE: Final = N_(
    "No connection to the hospital since {when}. Your measurements are kept safe on the hub."
)
NO_CONNECTION_YET: Final = N_(
    "No connection to the hospital yet. Your measurements are kept safe on the hub."
)
MEASURE_NOW: Final = N_("It is time to take a measurement.")
MEASURE_AGAIN: Final = N_("Please measure again with the {device}.")

DEVICE: Final[dict[str, str]] = {
    "blood-pressure": N_("blood pressure monitor"),
    "pulse-oximeter": N_("pulse oximeter"),
    "heart-rate": N_("heart rate belt"),
    "thermometer": N_("thermometer"),
    "weight-scale": N_("scale"),
    "glucose": N_("blood glucose meter"),
}
SOME_DEVICE: Final = N_("measuring device")

TODAY_AT: Final = N_("today at {time}")
ON_DAY_AT: Final = N_("{day}.{month}. at {time}")

# Shown before each statement, so that colour is never the only signal.
MARK: Final[dict[Severity, str]] = {
    Severity.OK: "OK",
    Severity.INFO: "i",
    Severity.WARN: "!",
    Severity.PROBLEM: "!!",
}

PROMPT: Final[dict[Prompt, str]] = {
    Prompt.MEASUREMENT_DUE: MEASURE_NOW,
    Prompt.MEASUREMENT_RECEIVED: N_("Thank you. The measurement was received."),
    Prompt.CONNECTION_LOST: N_("The connection to the hospital was lost."),
}

TITLE: Final = N_("Home hub")
UPDATED: Final = N_("Updated {time}")
KEYS: Final = N_("R: refresh   L: på norsk   Q: quit")


def statement(said: Statement, tr: gettext.NullTranslations, now: datetime, tz: tzinfo) -> str:
    """The sentence for `said`, in `tr`'s language, times in `tz` relative to `now`."""
    device = tr.gettext(DEVICE.get(said.device_kind or "", SOME_DEVICE))
    if said.says is Say.MEASUREMENT_DUE:
        return tr.gettext(MEASURE_AGAIN if said.device_kind else MEASURE_NOW).format(device=device)
    if said.says is Say.NO_CONNECTION:
        if said.since is None:
            return tr.gettext(NO_CONNECTION_YET)
        return tr.gettext(NO_CONNECTION_SINCE).format(when=when(said.since, tr, now, tz))
    since = when(said.since, tr, now, tz) if said.since else ""
    return tr.gettext(SAY[said.says]).format(device=device, when=since)


def when(at: datetime, tr: gettext.NullTranslations, now: datetime, tz: tzinfo) -> str:
    """'today at 14:05', or '2.12. at 14:05' on another day (in the reader's language)."""
    local, today = at.astimezone(tz), now.astimezone(tz)
    time = f"{local:%H:%M}"
    if local.date() == today.date():
        return tr.gettext(TODAY_AT).format(time=time)
    return tr.gettext(ON_DAY_AT).format(day=local.day, month=local.month, time=time)


def prompt(said: Prompt, tr: gettext.NullTranslations) -> str:
    return tr.gettext(PROMPT[said])
