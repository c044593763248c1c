"""Spelling correction and word splitting for customer questions, against a vocabulary made of
the knowledge base's own words and the embedding model's whole-word vocabulary.

A misspelt word ("addd", "newslewtter", "pamyent") falls apart into word pieces that carry
little of its meaning; two words run together ("ofpurchase", "urnewsletter") do too. A word the
vocabulary does not know is replaced by a known word one edit away (insertion, deletion,
substitution or transposition of one letter), or split into two known words. The knowledge
base's words win over the general vocabulary, then commoner words over rarer ones. Words the
model's vocabulary lacks but that are real ("reimbursement", "rebate") would be "corrected"
into a wrong common word, so a general-vocabulary correction must be a common word and the
original must look like no inflection of a known word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from tickets.embeddings import model_dir

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
COMMON_RANK = 8000  # general-vocabulary corrections must be among the commonest words
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "ment", "ments", "ion", "ions", "al", "able")
_SPLIT_WORDS_MIN = 2
# "descale", "unsubscribe", "prepaid": a prefix and a word make one word, not two.
_PREFIXES = frozenset("de re un dis mis pre non co sub over under out up in im en anti inter".split())
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Contractions typed without their apostrophe: "dont" is not a misspelt "don".
_CONTRACTIONS = {
    "dont": "don't", "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't",
    "arent": "aren't", "wasnt": "wasn't", "havent": "haven't", "hasnt": "hasn't", "couldnt": "couldn't",
    "shouldnt": "shouldn't", "wouldnt": "wouldn't", "im": "I'm", "ive": "I've", "id": "I'd",
}


@lru_cache(maxsize=1)
def model_vocabulary() -> dict[str, int]:
    """The embedding model's whole words (letters only) and their rank; {} without a model folder."""
    folder = model_dir()
    if folder is None or not (folder / "vocab.txt").exists():
        return {}
    with open(folder / "vocab.txt", encoding="utf-8") as handle:
        words = [line.strip() for line in handle]
    return {w: i for i, w in enumerate(words) if w.isalpha() and w.islower()}


def words_of(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


def _edits1(word: str) -> set[str]:
    """Words one edit away that keep the first letter (people rarely mistype it: "rebate" is
    not "debate"), except by swapping the first two ("baout")."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits[1:] if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits[1:] if b for c in LETTERS]
    inserts = [a + c + b for a, b in splits[1:] for c in LETTERS]
    return set(deletes + transposes + replaces + inserts)


@dataclass
class Speller:
    """Corrects words against `kb_words` (the knowledge base's) and the model's vocabulary."""

    kb_words: set[str] = field(default_factory=set)
    general: dict[str, int] = field(default_factory=model_vocabulary)

    def known(self, word: str) -> bool:
        return word in self.kb_words or word in self.general

    def _inflected(self, word: str) -> bool:
        """An inflection of a known word ("correcting", "reimbursements") is a real word."""
        return any(
            word.endswith(suffix) and (self.known(stem) or stem + "e" in self.general)
            for suffix in _SUFFIXES
            for stem in (word[: -len(suffix)],)
            if len(stem) >= 3
        )

    def _rank(self, word: str) -> tuple[int, str]:
        return self.general.get(word, len(self.general)), word

    def _from_kb(self, candidates: set[str]) -> str | None:
        in_kb = [c for c in candidates if c in self.kb_words]
        return min(in_kb, key=self._rank) if in_kb else None

    def _common(self, candidates: set[str]) -> str | None:
        common = [c for c in candidates if self.general.get(c, COMMON_RANK) < COMMON_RANK]
        return min(common, key=self._rank) if common else None

    def _split(self, word: str) -> str | None:
        """"ofpurchase" → "of purchase": both halves known, the knowledge base's words first."""
        best, best_score = None, None
        for i in range(_SPLIT_WORDS_MIN, len(word) - _SPLIT_WORDS_MIN + 1):
            left, right = word[:i], word[i:]
            if left in _PREFIXES or not (self._whole(left) and self._whole(right)):
                continue
            score = (right in self.kb_words or left in self.kb_words, -max(self.general.get(left, 0), self.general.get(right, 0)))
            if best_score is None or score > best_score:
                best, best_score = f"{left} {right}", score
        return best

    def _whole(self, word: str) -> bool:
        return word in self.kb_words or self.general.get(word, COMMON_RANK) < COMMON_RANK

    def correct_word(self, word: str) -> str:
        lower = word.lower()
        if lower in _CONTRACTIONS:
            return _CONTRACTIONS[lower]
        if len(lower) < MIN_LENGTH or not lower.isalpha() or self.known(lower):
            return word
        edits = _edits1(lower)
        # The knowledge base's own words first: "shiping" is "shipping", though "ship" + "ing" looks regular.
        fixed = self._from_kb(edits)
        if fixed is None and self._inflected(lower):
            return word
        # "iwant", "uhelp": a pronoun run into the next word.
        if fixed is None and lower[0] in "iu" and self._whole(lower[1:]):
            return f"{'I' if lower[0] == 'i' else 'you'} {lower[1:]}"
        return fixed or self._common(edits) or self._split(lower) or word

    def correct(self, text: str) -> str:
        return _WORD.sub(lambda m: self.correct_word(m.group(0)) if "'" not in m.group(0) else m.group(0), text)
