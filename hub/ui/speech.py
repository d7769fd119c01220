"""Spoken prompts through espeak-ng: fixed sentences from the catalogues, never a value.

Silent and harmless where espeak-ng or a sound device is missing: a missing program is
noticed once, and espeak-ng's own failure (no sound device) is waited for and ignored. One
prompt speaks at a time, in order, from one task, so prompts never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Final

from hub.ui.i18n import Language

log = logging.getLogger(__name__)

VOICE: Final[dict[Language, str]] = {"nb": "nb", "en": "en"}
PROGRAM: Final = "espeak-ng"
_TIMEOUT_S: Final = 60.0


def command(text: str, language: Language, wav: Path | None = None) -> list[str]:
    """espeak-ng's argument list: the voice of `language`, slower than default for clarity,
    to `wav` instead of the sound device when given."""
    args = [PROGRAM, "-v", VOICE[language], "-s", "140"]
    if wav is not None:
        args += ["-w", str(wav)]
    return [*args, "--", text]


class Speaker:
    def __init__(self, language: Language) -> None:
        self.language = language
        self.program = shutil.which(PROGRAM)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def say(self, text: str) -> None:
        """Queue `text`; it is spoken after what is already queued (nothing without espeak-ng)."""
        if self.program is None:
            return
        self._queue.put_nowait(text)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                process = await asyncio.create_subprocess_exec(
                    *command(text, self.language),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError as exc:
                log.info("espeak-ng could not start (%s); prompts stay silent", exc)
                self.program = None
                return
            try:
                async with asyncio.timeout(_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                pass  # a stuck sound device: give up on this prompt
            finally:
                if process.returncode is None:  # timed out, or stopped while speaking
                    process.kill()
                    await process.wait()
