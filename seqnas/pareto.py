"""Pareto dominance for multi-objective studies (all objectives minimised)."""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def nondominated_sort(points: np.ndarray) -> list[list[int]]:
    """Fronts of row indices: front 0 is the Pareto front, front 1 what it dominates, ..."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n == 0:
        return []
    if pts.ndim == 1:
        pts = pts.reshape(n, 1)
    # dom[i, j]: i dominates j (all pairs at once; a pairwise Python loop is ~100x slower).
    dom = np.asarray((pts[:, None, :] <= pts[None, :, :]).all(-1) & (pts[:, None, :] < pts[None, :, :]).any(-1))
    dominated_by = [np.flatnonzero(dom[i]).tolist() for i in range(n)]
    count = dom.sum(axis=0)
    fronts: list[list[int]] = []
    current = [i for i in range(n) if count[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


def pareto_mask(points: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(points), dtype=bool)
    if len(points):
        mask[nondominated_sort(points)[0]] = True
    return mask


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each point within its front (boundary points: inf)."""
    pts = np.asarray(points, dtype=float)
    n, m = pts.shape if pts.ndim == 2 else (len(pts), 1)
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(pts[:, k], kind="stable")
        span = pts[order[-1], k] - pts[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (pts[order[2:], k] - pts[order[:-2], k]) / span
    return dist
