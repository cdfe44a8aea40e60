"""Argument checks shared by the models: what nanobert cannot honour is refused by name."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple, Union


def check_device(device: Any) -> None:
    """``None`` and ``"cpu"`` are accepted; anything else is refused (nanobert runs on the CPU)."""
    if device is None or (isinstance(device, str) and device.lower() == "cpu"):
        return
    raise ValueError(
        f"device={device!r} cannot be honoured: nanobert runs on the CPU only "
        "(pass device=None or device='cpu'; scale out with more processes, see examples/python/ray_embed.py)"
    )


def refuse(what: str, value: Any, default: Any, why: str) -> None:
    """Refuses ``value`` for the argument ``what`` unless it is the default."""
    if value is not default and value != default:
        raise ValueError(f"{what}={value!r} cannot be honoured: {why}")


def refuse_extra(method: str, kwargs: Dict[str, Any]) -> None:
    """Keyword arguments sentence-transformers passes on to torch modules: none is understood."""
    if kwargs:
        raise ValueError(
            f"{method}() got keyword arguments nanobert does not use: {sorted(kwargs)} "
            "(they would go to torch modules in sentence-transformers)"
        )


def checkpoint_dir(path: Union[str, "os.PathLike[str]"], revision: Optional[str] = None) -> str:
    """The checkpoint directory as a string: a local path as given (the library checks it and
    names what is wrong: a missing directory is a ``FileNotFoundError``, an unreadable file an
    ``OSError``, with the messages the CLI prints), or for a Hub id such as
    ``sentence-transformers/all-MiniLM-L6-v2`` its snapshot in the Hugging Face cache (the one
    transformers and ``nanobert --model ID`` download into). A Hub id not in the cache is
    downloaded with ``huggingface_hub.snapshot_download`` when that package is installed (it
    honours HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE); otherwise the error says how to get it."""
    from ._nanobert import resolve_model

    p = os.fspath(path)
    if not isinstance(p, str):
        raise TypeError(f"model path must be a str or os.PathLike, got {type(path).__name__}")
    if revision is not None and not isinstance(revision, str):
        raise TypeError(f"revision must be a str, got {type(revision).__name__}")
    try:
        return os.fspath(resolve_model(p, revision))
    except FileNotFoundError as not_cached:
        try:
            import huggingface_hub
        except ImportError:
            raise not_cached from None
    # Only the files a checkpoint reads (not the ONNX, OpenVINO or PyTorch copies).
    patterns = ["*.json", "*.txt", "model.safetensors", "*/model.safetensors"]
    return huggingface_hub.snapshot_download(p, revision=revision, allow_patterns=patterns)


def positive(name: str, value: int) -> int:
    """``value`` as a positive int (``ValueError`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def texts(inputs: Any, what: str = "sentences") -> Tuple[List[str], bool]:
    """The input texts as a list and whether a single ``str`` was given."""
    if isinstance(inputs, str):
        return [inputs], True
    if inputs is None:
        raise TypeError(f"{what} must be a str or a list of str, got None")
    if hasattr(inputs, "tolist") and not isinstance(inputs, (list, tuple)):
        inputs = inputs.tolist()
    out = list(inputs)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] must be a str, got {type(t).__name__} (nanobert embeds text only)")
    return out, False


def pairs(inputs: Any) -> Tuple[List[Tuple[str, str]], bool]:
    """Text pairs as a list of tuples and whether a single pair was given."""
    if hasattr(inputs, "tolist") and not isinstance(inputs, (list, tuple)):
        inputs = inputs.tolist()
    if isinstance(inputs, (list, tuple)) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs):
        return [(inputs[0], inputs[1])], True
    out: List[Tuple[str, str]] = []
    for i, p in enumerate(inputs):
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)):
            raise TypeError(f"pair {i} must be two str, got {p!r}")
        out.append((p[0], p[1]))
    return out, False

