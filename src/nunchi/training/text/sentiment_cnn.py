"""Training of the character CNN with torch on the CPU (training only; scoring is numpy).

torch is imported inside the functions: it is a training-time tool, never needed to score.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nunchi.analyzers.text.sentiment_cnn import char_ids
from nunchi.analyzers.text.sentiment_features import joined_codes
from nunchi.errors import InvalidInput

__all__ = ["CnnSettings", "build_vocab", "train_cnn"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CnnSettings:
    """Size and schedule of the character CNN."""

    embed_dim: int = 64
    filters: int = 128
    kernels: tuple[int, ...] = (2, 3, 4, 5)
    dropout: float = 0.3
    epochs: int = 3
    batch_size: int = 256
    lr: float = 2e-3
    min_char_count: int = 3
    max_vocab: int = 6000
    max_chars: int = 200


def build_vocab(texts: Sequence[str], settings: CnnSettings) -> NDArray[np.int64]:
    """Sorted code points seen at least ``min_char_count`` times (the most frequent first kept)."""
    counts: dict[int, int] = {}
    for i in range(0, len(texts), 50_000):
        codes, n = np.unique(joined_codes(texts[i : i + 50_000], settings.max_chars),
                             return_counts=True)
        for code, count in zip(codes.tolist(), n.tolist(), strict=True):
            counts[code] = counts.get(code, 0) + count
    counts.pop(10, None)  # the boundary has its own id
    common = sorted(counts.items(), key=lambda kv: -kv[1])
    top = common[: settings.max_vocab]
    kept = [code for code, count in top if count >= settings.min_char_count]
    return np.array(sorted(kept), dtype=np.int64)


def _encode(texts: Sequence[str], vocab: NDArray[np.int64], settings: CnnSettings
            ) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """All texts as one flat id array plus offsets (row i is flat[off[i]:off[i+1]])."""
    parts: list[NDArray[np.int32]] = []
    lengths: list[NDArray[np.int64]] = []
    for i in range(0, len(texts), 20_000):
        ids, lens = char_ids(texts[i : i + 20_000], vocab, max_chars=settings.max_chars)
        mask = np.arange(ids.shape[1])[None, :] < lens[:, None]
        parts.append(ids[mask])
        lengths.append(lens)
    all_lengths = np.concatenate(lengths)
    offsets = np.concatenate(([0], np.cumsum(all_lengths)))
    return np.concatenate(parts), offsets


def train_cnn(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    seed: int = 0,
    settings: CnnSettings | None = None,
    progress: Progress | None = None,
) -> dict[str, NDArray[np.generic]]:
    """Train the CNN; returns its arrays (``cnn_*``) as :class:`CharCnn` loads them."""
    try:
        torch: Any = importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InvalidInput(
            "training the accurate sentiment model needs torch (the CPU build, 2.13.0): "
            "pip install 'nunchi[train]'"
        ) from exc
    nn = torch.nn
    cfg = settings or CnnSettings()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vocab = build_vocab(texts, cfg)
    flat, offsets = _encode(texts, vocab, cfg)
    y = np.asarray(labels, dtype=np.float32)
    lengths = np.diff(offsets)
    min_len = max(cfg.kernels)

    net = nn.ModuleDict({
        "embed": nn.Embedding(vocab.size + 3, cfg.embed_dim, padding_idx=0),
        "convs": nn.ModuleList(nn.Conv1d(cfg.embed_dim, cfg.filters, k) for k in cfg.kernels),
        "drop": nn.Dropout(cfg.dropout),
        "out": nn.Linear(cfg.filters * len(cfg.kernels), 1),
    })

    def forward(ids: Any, lens: Any) -> Any:
        x = net["embed"](ids).transpose(1, 2)  # (B, D, L)
        pooled = []
        for k, conv in zip(cfg.kernels, net["convs"], strict=True):
            h = conv(x)  # (B, F, L-k+1)
            starts = torch.arange(h.shape[2]).unsqueeze(0)
            valid = (starts + k <= lens.unsqueeze(1)) | (starts == 0)
            h = h.masked_fill(~valid.unsqueeze(1), float("-inf"))
            pooled.append(torch.relu(h.max(dim=2).values))
        return net["out"](net["drop"](torch.cat(pooled, dim=1))).squeeze(1)

    n_pos = float(y.sum())
    pos_weight = torch.tensor((y.size - n_pos) / max(n_pos, 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    steps_per_epoch = math.ceil(y.size / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1.0 - s / total))
    # Batches of similar length cut the padding: sort by length with noise, cut, shuffle.
    step = 0
    started = time.monotonic()
    for _epoch in range(cfg.epochs):
        net.train()
        order = np.argsort(lengths + rng.uniform(0, 6, size=lengths.size), kind="stable")
        batches = [order[i : i + cfg.batch_size] for i in range(0, order.size, cfg.batch_size)]
        rng.shuffle(batches)
        for batch in batches:
            lens = lengths[batch]
            width = max(int(lens.max()), min_len)
            grid = offsets[batch][:, None] + np.arange(width)[None, :]
            valid = np.arange(width)[None, :] < lens[:, None]
            ids = np.where(valid, flat[np.minimum(grid, flat.size - 1)], 0)
            logits = forward(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lens))
            loss = loss_fn(logits, torch.from_numpy(y[batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if progress is not None and (step % 20 == 0 or step == total):
                progress("cnn", step, total)
    net.eval()
    elapsed = time.monotonic() - started
    arrays: dict[str, NDArray[np.generic]] = {
        "cnn_vocab": vocab,
        "cnn_embedding": net["embed"].weight.detach().numpy().astype(np.float16),
        "cnn_kernels": np.array(cfg.kernels, dtype=np.int64),
        "cnn_out_w": net["out"].weight.detach().numpy().reshape(-1).astype(np.float32),
        "cnn_out_b": net["out"].bias.detach().numpy().astype(np.float32),
        "cnn_max_chars": np.array([cfg.max_chars], dtype=np.int64),
        "cnn_train_seconds": np.array([elapsed], dtype=np.float64),
    }
    for k, conv in zip(cfg.kernels, net["convs"], strict=True):
        arrays[f"cnn_conv{k}_w"] = conv.weight.detach().numpy().astype(np.float16)
        arrays[f"cnn_conv{k}_b"] = conv.bias.detach().numpy().astype(np.float32)
    return arrays
