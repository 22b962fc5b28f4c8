"""Numpy inference for the character CNN sentiment model (trained with torch, see train_sentiment).

Architecture: character embeddings -> parallel 1-D convolutions (several widths) -> ReLU ->
max over positions -> linear -> logit. A convolution is linear in the embeddings, so at load time
each (offset, filter) block is folded into a per-character table: scoring is then gathers and
adds, no matrix multiply, which keeps it fast on one core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.sentiment_features import joined_codes

__all__ = ["BOUNDARY_ID", "PAD_ID", "UNK_ID", "CharCnn", "char_ids"]

PAD_ID = 0
UNK_ID = 1
BOUNDARY_ID = 2
_SEP = 10

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]


def char_ids(
    texts: Sequence[str], vocab: NDArray[np.int64], *, max_chars: int = 200, min_len: int = 1
) -> tuple[I32, NDArray[np.int64]]:
    """Texts as a padded id matrix ``(len(texts), L)`` and their lengths (edges included).

    Each row is ``boundary, chars..., boundary`` then ``PAD_ID``; ``vocab`` is the sorted array of
    known code points (id = index + 3); unknown characters get ``UNK_ID``. ``L`` is at least
    ``min_len``.
    """
    codes = joined_codes(texts, max_chars).astype(np.int64)
    if vocab.size:
        pos = np.minimum(np.searchsorted(vocab, codes), vocab.size - 1)
        ids = np.where(vocab[pos] == codes, pos + 3, UNK_ID).astype(np.int32)
    else:
        ids = np.full(codes.size, UNK_ID, dtype=np.int32)
    ids[codes == _SEP] = BOUNDARY_ID
    seps = np.flatnonzero(codes == _SEP)
    starts = seps[:-1]
    lengths = seps[1:] - starts + 1
    width = max(int(lengths.max()) if lengths.size else 0, min_len)
    grid = starts[:, None] + np.arange(width)[None, :]
    valid = np.arange(width)[None, :] < lengths[:, None]
    out = np.where(valid, ids[np.minimum(grid, ids.size - 1)], PAD_ID).astype(np.int32)
    return out, lengths


@dataclass
class CharCnn:
    """A trained character CNN: weights as numpy arrays, scoring with :meth:`logits`."""

    vocab: NDArray[np.int64]
    embedding: F32  # (V, D)
    kernels: tuple[int, ...]
    conv_w: list[F32]  # per width k: (F, D, k), torch's Conv1d layout
    conv_b: list[F32]  # per width k: (F,)
    out_w: F32  # (len(kernels) * F,)
    out_b: float
    max_chars: int = 200

    def __post_init__(self) -> None:
        # tables[k][j]: (V, F) = embedding @ conv_w[k][:, :, j].T, the offset-j contribution.
        self._tables: list[list[F32]] = [
            [
                np.ascontiguousarray(self.embedding @ w[:, :, j].T, dtype=np.float32)
                for j in range(w.shape[2])
            ]
            for w in self.conv_w
        ]

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[np.generic]], prefix: str) -> CharCnn:
        """Load from arrays saved by ``train_sentiment`` under ``prefix`` (``cnn_``)."""
        kernels = tuple(int(k) for k in arrays[f"{prefix}kernels"])
        return cls(
            vocab=np.asarray(arrays[f"{prefix}vocab"], dtype=np.int64),
            embedding=np.asarray(arrays[f"{prefix}embedding"], dtype=np.float32),
            kernels=kernels,
            conv_w=[np.asarray(arrays[f"{prefix}conv{k}_w"], dtype=np.float32) for k in kernels],
            conv_b=[np.asarray(arrays[f"{prefix}conv{k}_b"], dtype=np.float32) for k in kernels],
            out_w=np.asarray(arrays[f"{prefix}out_w"], dtype=np.float32),
            out_b=float(np.asarray(arrays[f"{prefix}out_b"]).reshape(-1)[0]),
            max_chars=int(np.asarray(arrays[f"{prefix}max_chars"]).reshape(-1)[0]),
        )

    def logits(self, texts: Sequence[str], *, chunk: int = 256) -> NDArray[np.float64]:
        """One logit (log-odds of positive) per text.

        Texts are scored in chunks of similar length, which keeps padding (and memory) small.
        """
        out = np.zeros(len(texts), dtype=np.float64)
        if len(texts) == 0:
            return out
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, order.size, chunk):
            idx = order[i : i + chunk]
            out[idx] = self._logits([texts[j] for j in idx])
        return out

    def _logits(self, texts: Sequence[str]) -> NDArray[np.float64]:
        ids, lengths = char_ids(
            texts, self.vocab, max_chars=self.max_chars, min_len=max(self.kernels)
        )
        width = ids.shape[1]
        pooled: list[F32] = []
        for k, tables, bias in zip(self.kernels, self._tables, self.conv_b, strict=True):
            n = width - k + 1
            acc = tables[0][ids[:, :n]]
            for j in range(1, k):
                acc += tables[j][ids[:, j : j + n]]
            acc += bias
            # A window counts when it fits inside the text (the first always counts). After the
            # ReLU every value is >= 0, so zeroing the other windows leaves the max unchanged.
            starts = np.arange(n)[None, :]
            valid = (starts + k <= lengths[:, None]) | (starts == 0)
            np.maximum(acc, 0.0, out=acc)
            acc *= valid[:, :, None]
            pooled.append(acc.max(axis=1))
        features = np.concatenate(pooled, axis=1)
        return (features @ self.out_w + self.out_b).astype(np.float64)
