"""The providers' prompt caches, as the fake server (tests/fakeserver.py) keeps its accounts of them.

A token here is four characters (rounded up per message), as everywhere in the fake: the rule
of thumb for real tokenizers, so prompts reach the providers' cache minimums as real ones do.
What is modelled:

- **Anthropic** caches only where a request asks: a content block (of ``system`` or a message)
  carrying ``cache_control`` is a breakpoint. For each breakpoint the longest prefix already in
  the cache is looked for at that block and up to 19 blocks before it; the longest hit is read.
  The prefix up to the last breakpoint is then written, unless it is shorter than the model's
  minimum (1,024 tokens; 4,096 for Claude Opus 4.5 and later and Haiku 4.5; 2,048 for Haiku 3.x),
  in which case nothing is cached. The reply's usage says ``cache_read_input_tokens``,
  ``cache_creation_input_tokens``, and ``input_tokens`` for the rest (after the last breakpoint).
- **OpenAI** caches every prompt of 1,024 tokens or more by itself: a later prompt of the same
  model reads the longest prefix it shares with an earlier one, counted from 1,024 in steps of
  128; ``prompt_tokens`` counts every input token, ``prompt_tokens_details.cached_tokens`` those
  read and ``cache_write_tokens`` those newly written.

A write is visible to the next request answered (the real APIs make it visible once the reply
that wrote it begins). Entries never expire.

Example::

    cache = PromptCache()
    use = cache.anthropic("claude-opus-4-5", [("system", "...", False), ("user", "...", True)])
    use.read, use.written, use.uncached
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

__all__ = ["CacheUse", "PromptCache", "anthropic_min_tokens", "tokens"]

OPENAI_MIN_TOKENS = 1024
OPENAI_STEP = 128
ANTHROPIC_LOOKBACK = 20  # blocks looked at for a hit, the breakpoint's own included


@dataclass(frozen=True)
class CacheUse:
    """How one request's input tokens were served: read from the cache, written to it, or neither."""

    total: int
    read: int = 0
    written: int = 0

    @property
    def uncached(self) -> int:
        return self.total - self.read - self.written


Block = tuple[str, str, bool]  # (role or "system", text, has a cache_control breakpoint)


def anthropic_min_tokens(model: str) -> int:
    """The shortest prefix a Claude model caches."""
    if re.search(r"opus-(4-[5-9]|[5-9])|haiku-4-5", model):
        return 4096
    if re.search(r"haiku-3|3(-5)?-haiku", model):
        return 2048
    return 1024


def tokens(text: str) -> int:
    """The fake's token count of ``text``: a token per four characters, rounded up."""
    return -(-len(text) // 4)


class PromptCache:
    """Thread-safe accounts of what each model has cached (``min_tokens`` overrides the minimums)."""

    def __init__(self, *, min_tokens: int | None = None) -> None:
        self.min_tokens = min_tokens
        self._lock = threading.Lock()
        self._anthropic: set[tuple[str, str]] = set()  # (model, prefix digest)
        self._openai: dict[str, list[str]] = {}  # model -> prompts seen

    def clear(self) -> None:
        with self._lock:
            self._anthropic.clear()
            self._openai.clear()

    def anthropic(self, model: str, blocks: list[Block]) -> CacheUse:
        """Read and write the cache for one Messages request's blocks (system first, then messages)."""
        digests: list[str] = []
        cumulative: list[int] = []
        h = hashlib.sha256(model.encode())
        total = 0
        for role, text, _ in blocks:
            h.update(f"\x00{role}\x00{text}".encode())
            digests.append(h.copy().hexdigest())
            total += tokens(text)
            cumulative.append(total)
        breakpoints = [i for i, (_, _, marked) in enumerate(blocks) if marked]
        if not breakpoints:
            return CacheUse(total)
        minimum = self.min_tokens if self.min_tokens is not None else anthropic_min_tokens(model)
        with self._lock:
            hit = -1
            for b in breakpoints:
                for j in range(b, max(b - ANTHROPIC_LOOKBACK, -1), -1):
                    if (model, digests[j]) in self._anthropic:
                        hit = max(hit, j)
                        break
            read = cumulative[hit] if hit >= 0 else 0
            last = breakpoints[-1]
            written = 0
            if last > hit and cumulative[last] >= minimum:
                written = cumulative[last] - read
                for b in breakpoints:
                    if b > hit and cumulative[b] >= minimum:
                        self._anthropic.add((model, digests[b]))
        return CacheUse(total, read, written)

    def openai(self, model: str, messages: list[tuple[str, str]]) -> CacheUse:
        """Read and write the cache for one Chat Completions prompt (its messages, system first)."""
        prompt = "".join(f"\x00{role}\x00{text}" for role, text in messages)
        total = sum(tokens(text) for _, text in messages)
        with self._lock:
            seen = self._openai.setdefault(model, [])
            shared = max((_common_prefix(prompt, earlier) for earlier in seen), default=0)
            read = _cacheable(min(shared // 4, total))
            written = max(_cacheable(total) - read, 0)
            if total >= OPENAI_MIN_TOKENS:
                seen.append(prompt)
        return CacheUse(total, read, written)


def _cacheable(tokens: int) -> int:
    """The longest prefix of ``tokens`` OpenAI caches: 0 below 1,024, else 1,024 + a multiple of 128."""
    if tokens < OPENAI_MIN_TOKENS:
        return 0
    return OPENAI_MIN_TOKENS + (tokens - OPENAI_MIN_TOKENS) // OPENAI_STEP * OPENAI_STEP


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b`` (bisection on slices: fast in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
