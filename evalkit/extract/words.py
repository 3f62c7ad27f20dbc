"""The words a reply labels its parts and answers with, in the languages students ask in.

A student who writes in Spanish gets ``### Inciso (a)`` and ``**Respuesta:**`` back; a
German one ``### Teilaufgabe a)``, ``**Lösung (b)**`` and ``**Ergebnis:**``. Each list
holds regex alternatives (lower case, matched without regard to case) that stand for
one English word the extractor knows; :func:`canonical` maps a matched word back to it.

English first, then Spanish, French, German, Italian and Portuguese.
"""

from __future__ import annotations

import re

__all__ = [
    "ANSWER_WORDS",
    "CORRECTED_WORDS",
    "PART_WORDS",
    "QUESTION_WORDS",
    "ROMAN_NUMERALS",
    "SUMMARY_WORDS",
    "anchor_in_all_languages",
    "canonical",
    "language",
]

# subpart labels and part numbers written in roman numerals, in order
ROMAN_NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")

# a heading word before a part's label: 'Part (a)', 'Solution (a)', 'Inciso (a)', 'Teil (iii)'
PART_WORDS = (
    r"sub-?part|part|solution|item"
    r"|incisos|inciso|apartado|parte|soluci[óo]n"
    r"|sous-partie|partie"
    r"|teilaufgabe|teil|l[öo]sung"
    r"|soluzione|punto"
    r"|solu[çc][ãa]o"
)
# a heading word before a question's number: 'Question 4', 'Pregunta 1', 'Aufgabe 6'
QUESTION_WORDS = (
    r"question|problema|problem|exercise|pregunta|ejercicio|exercice|aufgabe|frage|domanda|esercizio"
    r"|quest[ãa]o|exerc[íi]cio"
)
# an answer marker: 'Answer:', 'Respuesta (C):', 'Réponse :', 'Ergebnis:'
ANSWER_WORDS = (
    r"final\s+answer|answer|final|result|solution|conclusion"
    r"|respuesta(?:\s+final)?|resultado|soluci[óo]n"
    r"|r[ée]ponse(?:\s+finale)?|r[ée]sultat"
    r"|antwort|ergebnis|endergebnis|l[öo]sung"
    r"|risposta|risultato|soluzione"
    r"|resposta|solu[çc][ãa]o"
)
# a closing summary's heading: 'Summary', 'Resumen', 'Zusammenfassung'
SUMMARY_WORDS = (
    r"resumen|respuestas\s+finales|r[ée]sum[ée]|r[ée]capitulatif|r[ée]ponses\s+finales"
    r"|zusammenfassung|ergebnisse|endergebnisse|riepilogo|riassunto|resumo|respostas\s+finais"
)
# a label marked as a correction: 'A (corrected)', 'Lösung (a), korrigiert'
CORRECTED_WORDS = (
    r"corrected|revised|updated|fixed|again|new|cont(?:inued|'d)?"
    r"|corregid[oa]|corrig[ée]e?|korrigiert|berichtigt|corrett[oa]|corrigid[oa]"
)

_CANONICAL = (
    (re.compile(rf"^(?:{QUESTION_WORDS})$", re.IGNORECASE), "question"),
    (re.compile(r"^(?:sub-?part)$", re.IGNORECASE), "subpart"),
    (re.compile(rf"^(?:{PART_WORDS})$", re.IGNORECASE), "part"),
)


def canonical(word: str) -> str:
    """The English keyword a matched heading word stands for: ``'Inciso'`` → ``'part'``; others unchanged."""
    lowered = word.lower()
    if lowered in (
        "part",
        "question",
        "problem",
        "exercise",
        "q",
        "step",
        "case",
        "answer",
    ) or lowered.startswith("blank"):
        return lowered
    for pattern, name in _CANONICAL:
        if pattern.match(lowered):
            return name
    return lowered


# frequent function words that tell a language from English (short, unambiguous, no math letters)
_FUNCTION_WORDS = {
    "English": "the of and to is that it for with as are this be by not which",
    "Spanish": "el los las del que es por para con una como pero porque entonces también está la un en lo al su muy",
    "French": "le les des du est une pour dans qui que pas sont avec sur donc cette aussi la et un par ne au aux",
    "German": "der die das und ist nicht mit für den dem ein eine auch wird sind durch zu sich im von auf es nur",
    "Italian": "il gli che della delle per una sono con non come anche questo quindi la un di si al",
    "Portuguese": "os das dos que para uma com não são como mas porque então também um em ao na no",
}
_WORD_SETS = {language: set(words.split()) for language, words in _FUNCTION_WORDS.items()}


def language(text: str) -> str:
    """The language ``text``'s prose is in, by its function words: ``'English'``, ``'French'``, ...

    English unless another language's words clearly outnumber English ones (math and code are
    ignored, so a reply of formulas only reads as English).
    """
    tokens = re.findall(r"[a-zà-öø-ÿ]+", re.sub(r"\$[^$]*\$|`[^`]*`", " ", text.lower()))
    counts = {name: sum(t in words for t in tokens) for name, words in _WORD_SETS.items()}
    best = max((name for name in counts if name != "English"), key=lambda name: counts[name])
    if counts[best] >= 4 and counts[best] >= 2 * counts["English"]:
        return best
    return "English"


# the words of a rubric's anchor ('time', 'space') as other languages write them
_ANCHOR_WORDS = {
    "time": "time|tiempo|temps|zeit|laufzeit|rechenzeit|tempo",
    "space": "space|espacio|espace|speicher|speicherbedarf|spazio|espa[çc]o|memoria|m[ée]moire|mem[óo]ria",
    "memory": "memory|memoria|m[ée]moire|speicher|mem[óo]ria",
}


def anchor_in_all_languages(anchor: str) -> str:
    """A rubric's anchor regex with its English words (``time``, ``space``) also matching their translations."""
    return re.sub(
        r"(?<![\\\w\[])(time|space|memory)(?!\w)",
        lambda m: f"(?:{_ANCHOR_WORDS[m.group(1)]})",
        anchor,
    )
