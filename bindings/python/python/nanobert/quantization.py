"""Quantized embeddings, as sentence-transformers' ``quantize_embeddings`` (6.2) computes them."""

from __future__ import annotations

from typing import Optional

import numpy as np

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def quantize_embeddings(
    embeddings: np.ndarray,
    precision: str,
    ranges: Optional[np.ndarray] = None,
    calibration_embeddings: Optional[np.ndarray] = None,
) -> np.ndarray:
    """``embeddings`` ``[n, d]`` in ``precision``.

    - ``int8`` / ``uint8``: each dimension cut into 256 buckets between its minimum and maximum
      over ``ranges`` (``[2, d]``), else over ``calibration_embeddings``, else over the
      embeddings themselves (which needs at least two of them);
    - ``binary`` / ``ubinary``: one bit per dimension (``> 0``), packed 8 to a byte
      (``binary`` shifted by -128 into ``int8``).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Precision {precision!r} is not supported, must be one of {PRECISIONS}")
    embeddings = np.asarray(embeddings)
    if embeddings.dtype in (np.uint8, np.int8):
        raise ValueError("Embeddings to quantize must be float rather than int8 or uint8.")
    if embeddings.ndim == 2 and embeddings.shape[0] == 0:
        dim = embeddings.shape[1]
        if precision.endswith("int8"):
            return np.zeros((0, dim), dtype=np.int8 if precision == "int8" else np.uint8)
        if precision.endswith("binary"):
            return np.zeros((0, (dim + 7) // 8), dtype=np.int8 if precision == "binary" else np.uint8)
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision.endswith("int8"):
        if ranges is None:
            calib = calibration_embeddings
            if calib is None:
                if embeddings.ndim == 1 or embeddings.shape[0] == 1:
                    raise ValueError(
                        f"Cannot compute {precision} quantization ranges from a single embedding. "
                        "Call `quantize_embeddings` with `ranges` or `calibration_embeddings` "
                        "from a representative set of embeddings instead."
                    )
                calib = embeddings
            ranges = np.vstack((np.min(calib, axis=0), np.max(calib, axis=0)))
        ranges = np.asarray(ranges).astype(np.float32, copy=False)
        starts = ranges[0, :]
        steps = (ranges[1, :] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        q = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return q.astype(np.uint8) if precision == "uint8" else (q - 128).astype(np.int8)
    if precision == "binary":
        return (np.packbits(embeddings > 0, axis=-1) - 128).astype(np.int8)
    return np.packbits(embeddings > 0, axis=-1)
