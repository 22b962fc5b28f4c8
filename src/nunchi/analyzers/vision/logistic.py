"""Multinomial logistic regression with an L2 penalty, fitted by L-BFGS (pure numpy).

Deterministic: the start is all zeros and nothing is random, so the same data gives the same
weights. The objective is the mean cross-entropy plus ``l2 / 2 * ||W||^2`` (the bias is not
penalised); it is strictly convex in ``W``, so L-BFGS reaches the one optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LogisticFit", "fit_logistic", "log_softmax"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class LogisticFit:
    """Fitted weights ``(d, k)`` and bias ``(k,)``, with how the optimiser ended."""

    weights: F64
    bias: F64
    loss: float
    iterations: int
    converged: bool


def log_softmax(z: F64) -> F64:
    """Row-wise log of the softmax, computed stably."""
    z = z - z.max(axis=1, keepdims=True)
    out: F64 = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def _objective(x: F64, onehot: F64, l2: float) -> Callable[[F64], tuple[float, F64]]:
    n, d = x.shape
    k = onehot.shape[1]

    def fg(theta: F64) -> tuple[float, F64]:
        w = theta[: d * k].reshape(d, k)
        b = theta[d * k :]
        logp = log_softmax(x @ w + b)
        loss = -float(np.einsum("ij,ij->", onehot, logp)) / n + 0.5 * l2 * float(np.sum(w * w))
        resid = (np.exp(logp) - onehot) / n
        grad = np.concatenate([(x.T @ resid + l2 * w).ravel(), resid.sum(axis=0)])
        return loss, grad

    return fg


def _lbfgs(
    fg: Callable[[F64], tuple[float, F64]],
    theta: F64,
    *,
    max_iter: int,
    tol: float,
    memory: int = 10,
) -> tuple[F64, float, int, bool]:
    f, g = fg(theta)
    s_hist: list[F64] = []
    y_hist: list[F64] = []
    for it in range(1, max_iter + 1):
        if float(np.max(np.abs(g))) <= tol:
            return theta, f, it - 1, True
        # two-loop recursion: d = -H g
        q = g.copy()
        alphas: list[float] = []
        for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
            a = float(s @ q) / float(y @ s)
            alphas.append(a)
            q -= a * y
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        else:
            q /= max(1.0, float(np.linalg.norm(g)))
        for (s, y), a in zip(zip(s_hist, y_hist, strict=True), reversed(alphas), strict=True):
            q += (a - float(y @ q) / float(y @ s)) * s
        direction = -q
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_hist.clear()
            y_hist.clear()
            direction = -g / max(1.0, float(np.linalg.norm(g)))
            slope = float(g @ direction)
        step = 1.0
        while True:
            cand = theta + step * direction
            f_new, g_new = fg(cand)
            if f_new <= f + 1e-4 * step * slope or step < 1e-12:
                break
            step *= 0.5
        s_vec = cand - theta
        y_vec = g_new - g
        if float(s_vec @ y_vec) > 1e-12:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        flat = abs(f - f_new) <= 1e-12 * max(1.0, abs(f))
        theta, f, g = cand, f_new, g_new
        if flat:  # no progress left at float64 precision
            return theta, f, it, True
        if step < 1e-12:  # the line search found no decrease
            return theta, f, it, False
    return theta, f, max_iter, False


def fit_logistic(
    x: NDArray[np.floating],
    y: NDArray[np.integer],
    n_classes: int,
    *,
    l2: float,
    max_iter: int = 500,
    tol: float = 1e-5,
    start: LogisticFit | None = None,
) -> LogisticFit:
    """Fit ``softmax(x @ W + b)`` to class indices ``y`` (``0 <= y < n_classes``).

    The search starts from zeros, or from ``start`` (a fit on similar data, e.g. all the rows
    when fitting a cross-validation fold), which reaches the same optimum in fewer steps.
    """
    x64 = np.asarray(x, dtype=np.float64)
    n, d = x64.shape
    onehot = np.zeros((n, n_classes), dtype=np.float64)
    onehot[np.arange(n), np.asarray(y)] = 1.0
    if start is None:
        theta0 = np.zeros(d * n_classes + n_classes, dtype=np.float64)
    else:
        theta0 = np.concatenate([start.weights.ravel(), start.bias]).astype(np.float64)
    theta, loss, iters, converged = _lbfgs(
        _objective(x64, onehot, l2), theta0, max_iter=max_iter, tol=tol
    )
    return LogisticFit(
        weights=theta[: d * n_classes].reshape(d, n_classes).copy(),
        bias=theta[d * n_classes :].copy(),
        loss=loss,
        iterations=iters,
        converged=converged,
    )
