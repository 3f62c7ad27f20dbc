"""The words a reply labels its parts and answers with, in the languages students ask in.

A student who writes in Spanish gets ``### Inciso (a)`` and ``**Respuesta:**`` back; a
German one ``### Teilaufgabe a)``, ``**Lösung (b)**`` and ``**Ergebnis:**``. Each list
holds regex alternatives (lower case, matched without regard to case) that stand for
one English word the extractor knows; :func:`canonical` maps a matched word back to it.

English first, then Spanish, French, German, Italian and Portuguese, then Chinese and Japanese
(simplified and traditional characters, kana): a Chinese reply heads its parts ``### 第(a)问`` or
``**小题(b)**`` and its answers ``答案：``; a Japanese one ``## 問1``, ``設問(a)`` and ``答え：``. CJK
headings also put the number *between* two words (``第4题``, ``第 1 問``, ``第(a)问``, ``(a)小问``):
:data:`QUESTION_PREFIXES` / :data:`QUESTION_SUFFIXES` and :data:`PART_SUFFIXES` hold those words.
Full-width punctuation (``：（a）``) is read as its ASCII twin (:func:`halfwidth`).
"""

from __future__ import annotations

import re

__all__ = [
    "ANSWER_WORDS",
    "CORRECTED_WORDS",
    "PART_SUFFIXES",
    "PART_WORDS",
    "QUESTION_PLURALS",
    "QUESTION_PREFIXES",
    "QUESTION_SUFFIXES",
    "QUESTION_WORDS",
    "ROMAN_NUMERALS",
    "SUMMARY_WORDS",
    "anchor_in_all_languages",
    "canonical",
    "halfwidth",
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
    r"|soluzione|punto|sottopunto"
    r"|solu[çc][ãa]o|al[íi]nea"
    r"|小题|小題|小问|小問|设问|設問|子问题|子問題|第"  # '小题(a)', '設問(a)', '第(a)问'
)
# a word after a part's label in Chinese and Japanese: '第(a)问', '(b)小问', '(c)小題'
PART_SUFFIXES = r"小[问問题題]|[问問题題]"
# a heading word before a question's number: 'Question 4', 'Pregunta 1', 'Aufgabe 6'
QUESTION_WORDS = (
    r"question|problema|problem|exercise|pregunta|ejercicio|exercice|aufgabe|frage|domanda|esercizio|quesito"
    r"|quest[ãa]o|exerc[íi]cio"
    r"|问题|問題|题目|題目|质问|質問|大题|大題|大问|大問|习题|習題|[问問题題]"  # '问题1', '問1', '题目4'
)
# the plural a user names several questions with: 'Domande 3 e 4', 'preguntas 1 y 2', 'Aufgaben 1 und 6'
QUESTION_PLURALS = (
    r"questions|problems|exercises|preguntas|ejercicios|problemas|exercices|aufgaben|fragen"
    r"|domande|esercizi|problemi|quesiti|quest[õo]es|exerc[íi]cios"
)
# the words around a question's number in Chinese and Japanese: '第4题', '第 1 問', '第1大题'
QUESTION_PREFIXES = r"第"
QUESTION_SUFFIXES = r"大?[题題問问]|道题|道題"
# an answer marker: 'Answer:', 'Respuesta (C):', 'Réponse :', 'Ergebnis:'
ANSWER_WORDS = (
    r"final\s+answer|answer|final|result|solution|conclusion"
    r"|respuesta(?:\s+final)?|resultado|soluci[óo]n"
    r"|r[ée]ponse(?:\s+finale)?|r[ée]sultat"
    r"|antwort|ergebnis|endergebnis|l[öo]sung"
    r"|risposta|risultato|soluzione"
    r"|resposta|solu[çc][ãa]o"
    r"|最终答案|最終答案|最终结果|最終結果|最終的な答え|答え|解答|答案|回答|结论|結論|结果|結果"
)
# a closing summary's heading: 'Summary', 'Resumen', 'Zusammenfassung'
SUMMARY_WORDS = (
    r"resumen|respuestas\s+finales|r[ée]sum[ée]|r[ée]capitulatif|r[ée]ponses\s+finales"
    r"|zusammenfassung|ergebnisse|endergebnisse|riepilogo|riassunto|resumo|respostas\s+finais"
    r"|总结|總結|小结|小結|答案汇总|答案彙總|まとめ|要約|答えのまとめ"
)
# a label marked as a correction: 'A (corrected)', 'Lösung (a), korrigiert'
CORRECTED_WORDS = (
    r"corrected|revised|updated|fixed|again|new|cont(?:inued|'d)?"
    r"|corregid[oa]|corrig[ée]e?|korrigiert|berichtigt|corrett[oa]|corrigid[oa]"
    r"|修改|修正|更正|订正|訂正|改正|更新"
)

_CANONICAL = (
    (re.compile(rf"^(?:{QUESTION_WORDS})$", re.IGNORECASE), "question"),
    (re.compile(r"^(?:sub-?part)$", re.IGNORECASE), "subpart"),
    (re.compile(rf"^(?:{PART_WORDS})$", re.IGNORECASE), "part"),
)


# full-width forms (U+FF01-FF5E: '：', '（', 'ａ', '１') and the ideographic space and comma, as ASCII
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: ord(" "), 0x3001: ord(",")}


def halfwidth(text: str) -> str:
    """``text`` with full-width punctuation, letters and digits as their ASCII twins: ``'（a）：'`` → ``'(a):'``.

    One character for one, so offsets into the result are offsets into ``text``.
    """
    return text.translate(_HALFWIDTH)


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
    prose = re.sub(r"\$[^$]*\$|`[^`]*`", " ", text.lower())
    kana = len(re.findall(r"[\u3040-\u30ff]", prose))  # hiragana and katakana: Japanese
    han = len(re.findall(r"[\u4e00-\u9fff]", prose))  # CJK ideographs: Chinese (or Japanese kanji)
    latin = len(re.findall(r"[a-zà-öø-ÿ]", prose))
    if kana + han >= 10 and kana + han >= latin / 4:  # one ideograph is a word; a letter is not
        return "Japanese" if kana >= 3 else "Chinese"
    tokens = re.findall(r"[a-zà-öø-ÿ]+", prose)
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
