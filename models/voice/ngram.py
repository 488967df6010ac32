"""Phoneme n-gram language model with interpolated absolute-discount back-off (orders 1 to 4).

The asemic generator's model of each language's phonotactics: counted over the word types of a
lexicon (:mod:`caminos.models.voice.lexicon`), each word between a start symbol and an end symbol,
so it
also learns how words begin, end and how long they are. :meth:`NgramModel.distribution` gives the
next-phoneme distribution at any order up to the one counted; lower orders fill in where a
context was never seen (Ney, Essen and Kneser 1994 absolute discounting).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np

from caminos.models.voice.errors import VoiceError

MAX_ORDER = 4
DISCOUNT = 0.75  # absolute discount; the usual value for type counts
FOREIGN = 1e-6  # share of the order-0 distribution over phonemes the language never uses
FLOOR = 1e-3  # share of the order-0 distribution spread over the language's whole inventory


class NgramModel:
    """Counts of one language's phoneme sequences and the distributions they imply.

    Parameters
    ----------
    vocab : sequence of str
        Every phoneme the model may emit (the union over languages, so that models of different
        languages share indices); the end-of-word symbol is index ``len(vocab)``.
    words : iterable of sequences of str
        Training words as phoneme mnemonics; phonemes missing from ``vocab`` raise.
    order : int in [1, 4]
        Longest n-gram counted (order ``n`` uses the ``n - 1`` previous phonemes).

    Attributes
    ----------
    eos : int
        Index of the end-of-word symbol in every distribution.
    inventory : ndarray of bool, shape (len(vocab) + 1,)
        Phonemes (and end of word) seen in this language.
    """

    def __init__(
        self, vocab: Sequence[str], words: Iterable[Sequence[str]], order: int = MAX_ORDER
    ):
        if not 1 <= order <= MAX_ORDER:
            raise VoiceError(f"n-gram order must lie in [1, {MAX_ORDER}], got {order}")
        self.vocab = tuple(vocab)
        self.order = order
        self.eos = len(self.vocab)
        self._bos = -1
        index = {p: i for i, p in enumerate(self.vocab)}
        size = self.eos + 1
        tables: list[dict[tuple[int, ...], dict[int, int]]] = [
            defaultdict(lambda: defaultdict(int)) for _ in range(order)
        ]
        n_words = 0
        for word in words:
            try:
                ids = [index[p] for p in word] + [self.eos]
            except KeyError as exc:
                raise VoiceError(
                    f"phoneme {exc.args[0]!r} is not in the model's vocabulary"
                ) from None
            n_words += 1
            history = (self._bos,) * (order - 1)
            for token in ids:
                for n in range(order):  # context of length n
                    context = history[len(history) - n :] if n else ()
                    tables[n][context][token] += 1
                history = history[1:] + (token,) if order > 1 else history
        if n_words == 0:
            raise VoiceError("an n-gram model needs at least one training word")
        self.n_words = n_words
        self._tables = [
            {
                ctx: (
                    np.fromiter(nxt.keys(), np.int64, len(nxt)),
                    np.fromiter(nxt.values(), np.float64, len(nxt)),
                )
                for ctx, nxt in t.items()
            }
            for t in tables
        ]
        ids, counts = self._tables[0][()]
        unigram = np.zeros(size)
        unigram[ids] = counts
        self.inventory = unigram > 0
        base = (
            1.0 - FLOOR
        ) * unigram / unigram.sum() + FLOOR * self.inventory / self.inventory.sum()
        self._base = (1.0 - FOREIGN) * base + FOREIGN / size  # no symbol impossible: finite scores

    @property
    def unigram(self) -> np.ndarray:
        """Order-1 distribution over phonemes and end of word (a copy)."""
        return self._base.copy()

    def distribution(self, history: Sequence[int], order: int) -> np.ndarray:
        """Probability of each next symbol after ``history`` using contexts up to ``order - 1``.

        Parameters
        ----------
        history : sequence of int
            Indices of the word's phonemes so far (without a start symbol).
        order : int in [1, self.order]

        Returns
        -------
        ndarray, shape (len(vocab) + 1,), float64, summing to 1
        """
        order = min(max(int(order), 1), self.order)
        padded = (self._bos,) * (self.order - 1) + tuple(history)
        p = self._base.copy()
        for n in range(1, order):
            entry = self._tables[n].get(tuple(padded[len(padded) - n :]))
            if entry is None:
                continue  # unseen context: keep the lower order
            ids, counts = entry
            total = counts.sum()
            p *= DISCOUNT * len(ids) / total
            p[ids] += np.maximum(counts - DISCOUNT, 0.0) / total
        return p

    def log_probability(self, word: Sequence[str], order: int | None = None) -> float:
        """Natural log-probability of a whole word (end symbol included) at ``order``."""
        order = self.order if order is None else order
        index = {p: i for i, p in enumerate(self.vocab)}
        history: list[int] = []
        total = 0.0
        for token in [index[p] for p in word] + [self.eos]:
            total += float(np.log(self.distribution(history, order)[token]))
            history.append(token)
        return total
