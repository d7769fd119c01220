"""Spoken prompts: espeak-ng writes each prompt, in bokmål and English, to a WAV file of a
plausible length; without espeak-ng the speaker is silent and harmless."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from hub.ui import texts
from hub.ui.i18n import Language, translator
from hub.ui.prompts import Prompt
from hub.ui.speech import Speaker, command

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (the Makefile's system-deps installs it)",
)


@needs_espeak
@pytest.mark.parametrize("language", ["nb", "en"])
def test_each_prompt_to_a_wav_of_plausible_length(language: Language, tmp_path: Path) -> None:
    for prompt in Prompt:
        text = texts.prompt(prompt, translator(language))
        wav = tmp_path / f"{language}-{prompt}.wav"
        subprocess.run(command(text, language, wav), check=True, capture_output=True, timeout=60)
        with wave.open(str(wav)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        words = len(text.split())
        # 140 words a minute is 0.43 s a word; allow for pauses and a slow or fast voice
        assert 0.15 * words < seconds < 1.2 * words + 1, (prompt, language, seconds)


def test_the_bokmal_voice_is_asked_for_and_the_text_is_never_an_option() -> None:
    args = command("-w /etc/passwd", "nb")
    assert args[:3] == ["espeak-ng", "-v", "nb"]
    assert args[-2:] == ["--", "-w /etc/passwd"]
    assert command("x", "en")[2] == "en"


def test_without_espeak_ng_silent_and_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    async def scenario() -> None:
        speaker = Speaker("nb")
        assert speaker.program is None
        speaker.say("Nå er det tid for å måle.")
        await speaker.stop()

    asyncio.run(scenario())


@needs_espeak
def test_without_a_sound_device_harmless() -> None:
    """espeak-ng fails without a sound device (as here, in a container) or plays; either way
    the caller sees nothing and stop() ends it."""

    async def scenario() -> None:
        speaker = Speaker("nb")
        assert speaker.program is not None
        speaker.say("Takk. Målingen er mottatt.")
        speaker.say("Forbindelsen med sykehuset er brutt.")
        await asyncio.sleep(0)  # the speaking task starts
        await speaker.stop()

    asyncio.run(scenario())
