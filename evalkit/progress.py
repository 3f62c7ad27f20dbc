"""The live progress display of a run: conversations, turns, hints, tokens, cost, ETA.

On a terminal it is a rich live panel on stderr; elsewhere (pipes, CI) one
plain line per finished conversation; with ``--quiet`` nothing but errors.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from evalkit.models.base import Usage
from evalkit.pricing import cost_usd

__all__ = ["ProgressDisplay", "plural"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 hint``, ``2 hints``, ``0 hints``; ``many`` for a plural that is not ``word + 's'`` (``reply``)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


class ProgressDisplay:
    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.live: Live | None = None
        self.total = 0
        self.started = 0
        self.done = 0
        self.turns = 0
        self.hints = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.t0 = time.monotonic()
        self.run_dirs: list[Path] = []

    def expect(self, config: Any) -> None:
        """Size the display from a RunConfig (models x samples x problems, once the suite is known)."""
        self._models = len(config.all_models())
        self._samples = config.samples

    def __enter__(self) -> ProgressDisplay:
        if not self.quiet and self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None
        if not self.quiet and self.total:
            self.console.print(self._line())

    def message(self, text: str) -> None:
        if text.startswith("run directory: "):
            self.run_dirs.append(Path(text.removeprefix("run directory: ")))
        if not self.quiet:
            self.console.print(escape(text))

    def _line(self) -> str:
        elapsed = time.monotonic() - self.t0
        eta = ""
        if 0 < self.done < self.total:
            eta = f", ETA {elapsed / self.done * (self.total - self.done):.0f}s"
        return (
            f"conversations {self.done}/{self.total} done, {self.started - self.done} running; "
            f"{plural(self.turns, 'turn')}, {plural(self.hints, 'hint')}; "
            f"{self.tokens_in:,}+{self.tokens_out:,} tokens, "
            f"${self.cost:.4f}; {elapsed:.1f}s{eta}"
        )

    def _render(self) -> Text:
        return Text(self._line())

    def listener(self, type: str, data: dict[str, Any]) -> None:
        if type == "conversation_start":
            self.started += 1
            self.total = max(self.total, self.started)
        elif type == "message" and data.get("role") == "assistant":
            self.turns += 1
            usage = (data.get("response") or {}).get("usage") or {}
            call = Usage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
            self.tokens_in += call.input_tokens
            self.tokens_out += call.output_tokens
            self.cost += cost_usd(str(data.get("model")), call)
        elif type == "hint":
            self.hints += 1
        elif type == "conversation_end":
            self.done += 1
            if self.live is None and not self.quiet and not self.console.is_terminal:
                self.console.print(
                    f"done {data.get('model')} {data.get('conv')}: {self._line()}", highlight=False
                )
        if self.live is not None:
            self.live.update(self._render())
