"""Pareto dominance for multi-objective studies (all objectives minimised; ``minimised`` turns a
study's points with maximised objectives into that form)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def minimised(points: np.ndarray, directions: Sequence[str] | None = None) -> np.ndarray:
    """``points`` (one row per trial, one column per objective) with the columns of the objectives
    whose direction is ``"maximize"`` negated, so that lower is better in every column."""
    pts = np.asarray(points, dtype=float)
    if not directions or "maximize" not in directions:
        return pts
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return pts * signs if pts.ndim == 2 else pts * signs[0]


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


def pareto_mask(points: np.ndarray, directions: Sequence[str] | None = None) -> np.ndarray:
    """True for the non-dominated rows (``directions``: per column, "minimize" (default) or "maximize").

    Memory O(n): the rows are visited in lexicographic order, so a row can only be dominated by one
    visited before it, and each is compared with the front found so far (``nondominated_sort``
    compares all pairs at once, which a race's tens of thousands of trials cannot afford: 59k
    points needed 6.5 GiB per comparison array)."""
    pts = minimised(points, directions)
    n = len(pts)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    pts = pts.reshape(n, -1)
    front = np.empty((0, pts.shape[1]))
    for i in np.lexsort(pts.T[::-1]):
        p = pts[i]
        if front.size and bool(np.any(np.all(front <= p, axis=1) & np.any(front < p, axis=1))):
            continue
        mask[i] = True
        front = np.vstack([front, p])
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
