"""Replay a recorded conversation from a cassette: the offline default model.

A cassette is YAML: the opening reply, and per problem the reply to the
question and the replies to each hint, in order::

    cassette: 1
    recorded_model: anthropic:claude-opus-4-5
    source: the HW9 participation write-up
    opening: "Absolutely, I understand! ..."
    problems:
      q3:
        reply: "### Part (a): Fill in the blanks ..."
        hints: ["Great catch—yes, you're absolutely right! ..."]
        probes: {"b:misconception": "I think you might be conflating ..."}   # replies to student probes
        followups: [{user: "...", assistant: "..."}]   # recorded, never replayed

A probe the cassette has no reply to is not run (its outcome is ``not_run``).

``replay:default`` is the cassette bundled with evalkit
(``cassettes/hw9-claude-opus-4-5.yaml``); ``replay:PATH`` any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evalkit.errors import ReplayExhausted, SpecError
from evalkit.models.base import ModelRequest, ModelResponse, Usage
from evalkit.models.registry import ModelSettings
from evalkit.paths import default_dir
from evalkit.spec.loading import load_model

__all__ = ["DEFAULT_CASSETTE", "Cassette", "ReplayModel", "create", "load_cassette", "skipped_note"]

DEFAULT_CASSETTE = "hw9-claude-opus-4-5.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Followup(_Strict):
    user: str
    assistant: str


class RecordedProblem(_Strict):
    reply: str = Field(min_length=1)
    hints: list[str] = Field(default_factory=list)
    probes: dict[str, str] = Field(
        default_factory=dict, description="replies to student probes, by 'part:probe' (b:misconception)"
    )
    followups: list[Followup] = Field(default_factory=list)


class Cassette(_Strict):
    cassette: int = Field(default=1, ge=1, le=1, description="format version")
    recorded_model: str | None = None
    source: str | None = None
    opening: str | None = None
    problems: dict[str, RecordedProblem] = Field(default_factory=dict)


def cassette_path(name: str) -> Path:
    if name == "default":
        return default_dir("cassettes") / DEFAULT_CASSETTE
    path = Path(name)
    if not path.exists() and not path.is_absolute():
        bundled = default_dir("cassettes") / name
        if bundled.exists():
            return bundled
    return path


def load_cassette(path: str | Path) -> Cassette:
    return load_model(Cassette, path)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ReplayModel:
    """Answers each turn with the reply recorded for it; no network, no key."""

    provider = "replay"

    def __init__(self, cassette: Cassette, path: Path, label: str) -> None:
        self.cassette = cassette
        self.path = path
        self.name = f"replay:{label}"

    def covers(self, problem_id: str) -> bool:
        """Whether the cassette holds a recording of ``problem_id``."""
        return problem_id in self.cassette.problems

    def _reply(self, request: ModelRequest) -> str:
        turn = request.turn
        if turn.kind == "opening":
            if self.cassette.opening is None:
                return "Understood. Let's go one question at a time."
            return self.cassette.opening
        recorded = self.cassette.problems.get(turn.problem or "")
        if recorded is None:
            raise ReplayExhausted(
                f"cassette {self.path} has no recording for problem {turn.problem!r} "
                f"(it has: {', '.join(self.cassette.problems) or 'none'}); "
                "choose problems it covers with --problems, or record a new cassette"
            )
        if turn.kind == "question":
            return recorded.reply
        if turn.kind == "probe":
            if turn.probe in recorded.probes:
                return recorded.probes[turn.probe]
            raise ReplayExhausted(
                f"{self.name} ({self.path.name}) has no recorded reply to probe {turn.probe} of {turn.problem!r} "
                f"(it has: {', '.join(recorded.probes) or 'none'})"
            )
        if turn.hint <= len(recorded.hints):
            return recorded.hints[turn.hint - 1]
        raise ReplayExhausted(
            f"cassette {self.path} has {len(recorded.hints)} recorded hint repl"
            f"{'y' if len(recorded.hints) == 1 else 'ies'} for {turn.problem!r}, but hint {turn.hint} was sent"
        )

    async def generate(self, request: ModelRequest) -> ModelResponse:
        text = self._reply(request)
        prompt_chars = sum(len(m.content) for m in request.messages) + len(request.system or "")
        usage = Usage(_estimate_tokens("x" * prompt_chars), _estimate_tokens(text))
        return ModelResponse(
            text=text, usage=usage, model=self.cassette.recorded_model or self.name, stop_reason="end_turn"
        )

    async def aclose(self) -> None:
        return None


def skipped_note(model: str, skipped: Sequence[tuple[str, str, Path]]) -> str:
    """The one line that names the problems a cassette does not cover, and how to run them.

    ``skipped`` holds ``(problem id, suite, problem file)``. Example::

        skipped 1 problem that replay:default has no recording of: hw10 (hw10_q1); run it with a live
        model (evalkit run --model claude --problems 'problems/hw10_q1.yaml') or grade a transcript
        of it (evalkit grade-transcript FILE --suite hw10)
    """
    suites: dict[str, list[str]] = {}
    for pid, suite, _ in skipped:
        suites.setdefault(suite, []).append(pid)
    which = "; ".join(f"{suite} ({', '.join(ids)})" for suite, ids in suites.items())
    n = len(skipped)
    noun, it = ("problem", "it") if n == 1 else ("problems", "them")
    files = [_shown(path) for _, _, path in skipped]
    prefixes = {f.stem.split("_")[0] + "_" for f in files}
    if n == 1:
        pattern = str(files[0])
    elif len(prefixes) == 1 and len({f.parent for f in files}) == 1:
        pattern = str(files[0].parent / f"{prefixes.pop()}*.yaml")
    else:
        pattern = ""
    problems = f" --problems '{pattern}'" if pattern else ""
    transcript = f" --suite {next(iter(suites))}" if len(suites) == 1 else ""
    return (
        f"skipped {n} {noun} that {model} has no recording of: {which}; run {it} with a live model "
        f"(evalkit run --model claude{problems}) or grade a transcript of {it} "
        f"(evalkit grade-transcript FILE{transcript})"
    )


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is inside it (as a user would type it)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def create(model_id: str, settings: ModelSettings) -> ReplayModel:
    path = cassette_path(model_id)
    if not path.is_file():
        raise SpecError("cassette not found; 'replay:default' is the bundled one", path=path)
    label = "default" if model_id == "default" else path.stem
    return ReplayModel(load_cassette(path), path, label)
