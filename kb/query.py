"""Turning what the user typed into what retrieval searches for: spelling repair against the corpus
vocabulary (follow-ups are resolved in ``kb.conversation``)."""
from __future__ import annotations

import difflib
import re
from collections import defaultdict

from .lexical import LexicalIndex
from .text import DANISH_STOPWORDS, ENGLISH_STOPWORDS, fold, stem_tokens


class SpellingRepair:
    """Maps words the corpus never uses to a corpus word: 'doegnbehandling' -> 'døgnbehandling',
    'rusmidelbrug' -> 'rusmiddelbrug'. Only the corpus vocabulary is used, never the questions."""

    def __init__(self, index: LexicalIndex) -> None:
        self._known = index.vocabulary
        self._known_stems = index.doc_freq
        self._folded = {fold(w): w for w in DANISH_STOPWORDS} | index.folded_lookup()
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in self._known:
            if len(word) >= 4:
                self._by_length[len(word)].append(word)

    def repair_word(self, word: str) -> str:
        lower = word.lower()
        if lower in self._known or len(lower) < 4 or lower.isdigit() or \
                lower in DANISH_STOPWORDS or lower in ENGLISH_STOPWORDS:
            return word
        if (restored := self._folded.get(fold(lower))) is not None:
            return restored
        if len(lower) < 6 or any(s in self._known_stems for s in stem_tokens(lower)):
            return word  # another inflection of a corpus word: the stemmer already matches it
        pool = [w for n in range(len(lower) - 2, len(lower) + 3) for w in self._by_length.get(n, ())
                if w[0] == lower[0]]
        match = difflib.get_close_matches(lower, pool, n=1, cutoff=0.9)
        return match[0] if match else word

    def repair(self, text: str) -> str:
        return re.sub(r"[^\W\d_]+", lambda m: self.repair_word(m.group()), text)
