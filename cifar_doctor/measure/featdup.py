"""Near-duplicates in a model's penultimate features: images the model cannot tell apart.

Measurement only (DUP003 judges). The features are read with one `model.predict`
pass per split (`cifar_doctor.sources.features.read_features`, as LBL010 reads them),
L2-normalized, and each eval image is matched to its nearest training image by
cosine similarity: blocked float32 matrix products (`QUERY_BLOCK` x `INDEX_BLOCK`
similarities at a time, 32 MB), keeping for each eval image its best and second-best
similarity. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Eval images per block of the search.
QUERY_BLOCK = 1024

#: Training feature vectors per block: 1024 x 8192 float32 similarities are 32 MB.
INDEX_BLOCK = 8192

#: A feature vector whose L2 norm is below this is all (or nearly all) zeros: every ReLU
#: unit of the layer is off, and its direction means nothing. Such images are not matched.
MIN_NORM = 1e-6


@dataclass(frozen=True)
class Nearest:
    """Each query's nearest indexed vector by cosine similarity.

    Attributes:
        index: (n,) int64, position of the nearest indexed vector (-1 for a query without features).
        similarity: (n,) float32, its cosine similarity (-1.0 for a query without features).
        second: (n,) float32, the second-best similarity (-1.0 when there is none).
    """

    index: np.ndarray
    similarity: np.ndarray
    second: np.ndarray


def normalized(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit L2 norm (float32), and whether each row had any features at all."""
    f = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    norm = np.sqrt(np.einsum("ij,ij->i", f, f))
    ok = norm >= MIN_NORM
    return f / np.where(ok, norm, 1.0)[:, None], ok


def nearest(query: np.ndarray, index: np.ndarray) -> Nearest:
    """For each row of `query`, its nearest row of `index` by cosine similarity (exhaustive, blocked).

    Args:
        query: (n, d) feature vectors, any scale.
        index: (m, d) feature vectors to look them up in.

    Example:

    >>> import numpy as np
    >>> f = np.random.default_rng(0).normal(size=(5, 16))
    >>> r = nearest(f[[3, 1]] * 2.0, f)
    >>> r.index.tolist(), np.round(r.similarity, 3).tolist()
    ([3, 1], [1.0, 1.0])
    """
    q, q_ok = normalized(query)
    t, t_ok = normalized(index)
    n = len(q)
    best_i = np.full(n, -1, np.int64)
    best_s = np.full(n, -1.0, np.float32)
    second = np.full(n, -1.0, np.float32)
    t = t[t_ok]
    t_pos = np.flatnonzero(t_ok)
    if not len(t) or not n:
        return Nearest(best_i, best_s, second)
    for q0 in range(0, n, QUERY_BLOCK):
        qb = q[q0 : q0 + QUERY_BLOCK]
        bi = np.full(len(qb), -1, np.int64)
        b1 = np.full(len(qb), -np.inf, np.float32)
        b2 = np.full(len(qb), -np.inf, np.float32)
        for t0 in range(0, len(t), INDEX_BLOCK):
            s = qb @ t[t0 : t0 + INDEX_BLOCK].T
            if s.shape[1] >= 2:
                top2 = np.argpartition(-s, 1, axis=1)[:, :2]
                v = np.take_along_axis(s, top2, axis=1)
                swap = v[:, 1] > v[:, 0]
                top2[swap] = top2[swap][:, ::-1]
                v[swap] = v[swap][:, ::-1]
                j1, s1, s2 = top2[:, 0] + t0, v[:, 0], v[:, 1]
            else:
                j1, s1, s2 = np.full(len(qb), t0), s[:, 0], np.full(len(qb), -np.inf, np.float32)
            # merge the block's two best with the running two best
            new_best = s1 > b1
            b2 = np.where(new_best, np.maximum(b1, s2), np.maximum(b2, s1))
            b1 = np.where(new_best, s1, b1)
            bi = np.where(new_best, j1, bi)
        rows = slice(q0, q0 + len(qb))
        best_i[rows], best_s[rows] = t_pos[bi], b1
        second[rows] = np.where(np.isfinite(b2), b2, -1.0)
    best_i[~q_ok], best_s[~q_ok], second[~q_ok] = -1, -1.0, -1.0
    return Nearest(best_i, np.minimum(best_s, 1.0).astype(np.float32), np.minimum(second, 1.0).astype(np.float32))
