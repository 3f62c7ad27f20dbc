"""A deterministic tutor for the 'trio' fixture suite, answering from the last user message.

Sums: part (a) wrong, fixed after one hint. Products: wrong twice, right after the second hint.
Words: right the first time. Used through the fake provider server and through ScriptedModel.
"""

from __future__ import annotations

from pathlib import Path

TRIO = Path(__file__).parent / "fixtures" / "trio"


def answer(last_user: str) -> str:
    if "Do you understand?" in last_user:
        return "Yes! One question at a time."
    if "Sums" in last_user:
        return "**Part (a)** 2 + 2 = $\\boxed{5}$\n\n**Part (b)** $\\boxed{15}$"
    if "Products" in last_user:
        return "3 * 4 = $\\boxed{11}$"
    if "Words" in last_user:
        return "**Part (a)** `Paris`\n\n**Part (b)** `blue`"
    if last_user == "Count on your fingers.":
        return "Oops: $\\boxed{4}$."
    if last_user == "Three fours.":
        return "Then $\\boxed{13}$."
    if last_user == "Four threes.":
        return "Finally $\\boxed{12}$."
    return "I am not sure what you mean."


def expected_parts() -> dict[tuple[str, str], tuple[str, str, int, int]]:
    """(problem, part) -> (status, first_attempt_status, attempts, hints)."""
    return {
        ("sums", "a"): ("correct", "incorrect", 2, 1),
        ("sums", "b"): ("correct", "correct", 1, 0),
        ("products", "a"): ("correct", "incorrect", 3, 2),
        ("words", "a"): ("correct", "correct", 1, 0),
        ("words", "b"): ("correct", "correct", 1, 0),
    }
