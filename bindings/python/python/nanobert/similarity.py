"""sentence-transformers' similarity functions (``sentence_transformers.util``), in NumPy."""

from __future__ import annotations

from enum import Enum
from typing import Callable, Dict, Union

import numpy as np


class SimilarityFunction(str, Enum):
    """The values ``similarity_fn_name`` can take, as in sentence-transformers."""

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"


def _rows(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"embeddings must be 1-D or 2-D, got shape {a.shape}")
    return a


def _normalize(a: np.ndarray) -> np.ndarray:
    # torch.nn.functional.normalize(p=2, dim=1, eps=1e-12)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), np.float32(1e-12))


def cos_sim(a, b) -> np.ndarray:
    """``[len(a), len(b)]`` cosine similarities."""
    return _normalize(_rows(a)) @ _normalize(_rows(b)).T


def dot_score(a, b) -> np.ndarray:
    """``[len(a), len(b)]`` dot products."""
    return _rows(a) @ _rows(b).T


def _cdist(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    diff = a[:, None, :] - b[None, :, :]
    if p == 1:
        return np.abs(diff).sum(axis=-1)
    return np.sqrt((diff * diff).sum(axis=-1))


def euclidean_sim(a, b) -> np.ndarray:
    """``[len(a), len(b)]`` negative Euclidean distances (higher is more similar)."""
    return -_cdist(_rows(a), _rows(b), 2)


def manhattan_sim(a, b) -> np.ndarray:
    """``[len(a), len(b)]`` negative Manhattan distances (higher is more similar)."""
    return -_cdist(_rows(a), _rows(b), 1)


_FUNCTIONS: Dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cosine": cos_sim,
    "dot": dot_score,
    "dot_product": dot_score,
    "euclidean": euclidean_sim,
    "manhattan": manhattan_sim,
}


def similarity_function(name: Union[str, SimilarityFunction]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The function called ``name``; a ``ValueError`` lists the valid names."""
    key = name.value if isinstance(name, SimilarityFunction) else str(name)
    try:
        return _FUNCTIONS[key]
    except KeyError:
        raise ValueError(
            f"similarity_fn_name {name!r} is not one sentence-transformers knows "
            "(cosine, dot, euclidean, manhattan)"
        ) from None


def similarity(a, b, name: Union[str, SimilarityFunction] = "cosine") -> np.ndarray:
    """``[len(a), len(b)]`` float32 similarities of two sets of embeddings by ``name``."""
    return similarity_function(name)(a, b).astype(np.float32, copy=False)


def pairwise(a, b, name: Union[str, SimilarityFunction] = "cosine") -> np.ndarray:
    """``[n]`` similarities of ``a[i]`` and ``b[i]`` (sentence-transformers' ``similarity_pairwise``)."""
    x, y = _rows(a), _rows(b)
    if x.shape != y.shape:
        raise ValueError(f"similarity_pairwise needs two arrays of one shape, got {x.shape} and {y.shape}")
    key = name.value if isinstance(name, SimilarityFunction) else str(name)
    similarity_function(key)  # the name check
    if key == "cosine":
        out = (_normalize(x) * _normalize(y)).sum(axis=1)
    elif key in ("dot", "dot_product"):
        out = (x * y).sum(axis=1)
    elif key == "euclidean":
        out = -np.sqrt(((x - y) ** 2).sum(axis=1))
    else:
        out = -np.abs(x - y).sum(axis=1)
    return out.astype(np.float32, copy=False)
