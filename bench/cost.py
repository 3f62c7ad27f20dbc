"""Benchmark: the dollar cost of a full HW9 run with and without prompt caching, on the fake server's accounts.

The fake provider server (tests/fakeserver.py) keeps prompt-cache accounts the way the real APIs
report them (tests/fakecache.py; a token is four characters there) and answers every turn as one of two tutees:

- ``writeup``: Claude's recorded reply from the HW9 write-up (cassettes/hw9-claude-opus-4-5.yaml),
  so the run grades as the offline replay does: 20/20 parts, one hint in all;
- ``every_hint``: ``$\boxed{0}$`` to every question and hint, so every part is wrong and gets its
  whole hint ladder (what a small local model gets: SmolLM2 needs most of them).

Caching pays only when a conversation goes on after a cache write (a write costs 1.25x the input
price, a read 0.1x): with one hint in five conversations it does not. The same run is made twice
per tutee and provider, with caching and without:

- Anthropic, at claude-sonnet-4-5 prices and its 1,024-token cache minimum: with the cache
  breakpoints evalkit sends, and with ``--no-prompt-cache``. (Claude Opus 4.5 caches only
  prefixes of 4,096 tokens or more, which HW9's prompts do not reach: there the ratio is 1.)
- OpenAI, at gpt-4o prices: caching is automatic; "without" is the fake with its cache off.

    python bench/cost.py [--samples 1]

Ends with one line of ``<tutee>_<provider>_uncached_usd``, ``_cached_usd`` and ``_ratio`` for each,
where ratio = cached / uncached (below 1: caching is cheaper).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalkit import api  # noqa: E402
from evalkit.models.replay import load_cassette  # noqa: E402
from evalkit.spec.suite import load_suite  # noqa: E402
from tests.fakeserver import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, ChatCall, FakeProvider  # noqa: E402

MODELS = {"anthropic": "anthropic:claude-sonnet-4-5", "openai": "openai:gpt-4o"}
HW9 = str(ROOT / "problems" / "hw9_*.yaml")  # the homework the write-up recorded


def every_hint(call: ChatCall) -> str:
    """A tutee that is wrong about everything (after a polite opening)."""
    users = [text for role, text in call.messages if role == "user"]
    return "Yes, one question at a time." if len(users) == 1 else "My answer: $\\boxed{0}$"


def recorded_replies():
    """A fake-server responder that answers each turn with the write-up's reply for it."""
    cassette = load_cassette(ROOT / "cassettes" / "hw9-claude-opus-4-5.yaml")
    suite = load_suite(HW9, str(ROOT / "rubrics"))
    by_title = {lp.problem.title: lp.id for lp in suite.problems}

    def respond(call: ChatCall) -> str:
        users = [text for role, text in call.messages if role == "user"]
        if len(users) == 1:
            return cassette.opening or "Yes."
        match = re.search(r"question \d+: (.+?)\. What would", users[1])
        recorded = cassette.problems[by_title[match.group(1)]] if match else None
        if recorded is None:
            return "I am not sure."
        hint = len(users) - 2
        if hint == 0:
            return recorded.reply
        return recorded.hints[min(hint, len(recorded.hints)) - 1] if recorded.hints else recorded.reply

    return respond


def run_cost(tutee: str, provider: str, prompt_cache: bool, runs: Path, samples: int) -> dict:
    with FakeProvider(prompt_cache=prompt_cache) as fake:
        fake.respond_with(recorded_replies() if tutee == "writeup" else every_hint)
        config = api.RunConfig(
            model=MODELS[provider],
            problems=HW9,
            rubrics=str(ROOT / "rubrics"),
            base_url=fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url,
            runs_dir=str(runs),
            samples=samples,
            cache=False,
            prompt_cache=prompt_cache,
        )
        result = api.run(config).to_json()
    return result["totals"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1)
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = FAKE_ANTHROPIC_KEY
    os.environ["OPENAI_API_KEY"] = FAKE_OPENAI_KEY
    line = []
    with tempfile.TemporaryDirectory() as tmp:
        for tutee, provider in [(t, p) for t in ("writeup", "every_hint") for p in ("anthropic", "openai")]:
            uncached = run_cost(tutee, provider, False, Path(tmp) / f"{tutee}-{provider}-off", args.samples)
            cached = run_cost(tutee, provider, True, Path(tmp) / f"{tutee}-{provider}-on", args.samples)
            assert (uncached["correct"], uncached["hints"]) == (cached["correct"], cached["hints"])
            print(
                f"{tutee} {MODELS[provider]}: {cached['correct']}/{cached['parts']} parts, {cached['hints']} hints; "
                f"{cached['input_tokens']:,} input tokens, {cached['cache_read_tokens']:,} read from the cache, "
                f"{cached['cache_write_tokens']:,} written to it",
                file=sys.stderr,
            )
            ratio = cached["cost_usd"] / uncached["cost_usd"]
            line += [
                f"{tutee}_{provider}_uncached_usd={uncached['cost_usd']:.6f}",
                f"{tutee}_{provider}_cached_usd={cached['cost_usd']:.6f}",
                f"{tutee}_{provider}_ratio={ratio:.3f}",
            ]
    print(" ".join(line))


if __name__ == "__main__":
    main()
