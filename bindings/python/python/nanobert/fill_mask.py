"""Fill-mask: transformers' ``pipeline("fill-mask")`` results over nanobert."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

from . import _args
from ._nanobert import FillMask as _Native


def _rebuild(cls, path: str, settings: Dict[str, Any]):
    return cls(path, **settings)


class FillMask:
    """A masked-language-model checkpoint (``BertForMaskedLM``): the words that fit at ``[MASK]``.

    ``fill(text)`` returns what transformers' ``pipeline("fill-mask")`` returns: for a text with
    one mask, a list of ``{"score", "token", "token_str", "sequence"}``, most probable first; a
    list of lists for several masks; one such result per text for a list of texts.
    """

    def __init__(
        self,
        model: Union[str, "os.PathLike[str]"],
        threads: Optional[int] = None,
        precision: str = "f32",
        *,
        device: Optional[str] = None,
        top_k: int = 5,
    ) -> None:
        _args.check_device(device)
        if threads is not None:
            _args.positive("threads", threads)
        self.top_k = _args.positive("top_k", top_k)
        self._model = _Native(_args.checkpoint_dir(model), threads, precision)
        self._settings: Dict[str, Any] = dict(threads=threads, precision=precision, top_k=top_k)

    @property
    def mask_token(self) -> str:
        """The tokenizer's mask token (``[MASK]``)."""
        return self._model.mask_token

    @property
    def threads(self) -> int:
        """The number of threads of this model's pool in this process."""
        return self._model.threads

    @property
    def path(self) -> str:
        """The checkpoint directory."""
        return str(self._model.path)

    def __call__(self, inputs: Union[str, List[str]], top_k: Optional[int] = None) -> Any:
        """The candidates for every ``[MASK]`` (see the class docs for the shape of the result)."""
        texts, single = _args.texts(inputs, "inputs")
        k = _args.positive("top_k", self.top_k if top_k is None else top_k)
        out = []
        for masks in self._model.predict(texts, k):
            per_mask = [
                [{"score": s, "token": tid, "token_str": tok, "sequence": seq} for (s, tid, tok, seq) in cands]
                for cands in masks
            ]
            out.append(per_mask[0] if len(per_mask) == 1 else per_mask)
        return out[0] if single else out

    fill = __call__

    def __reduce__(self):
        return (_rebuild, (type(self), self.path, dict(self._settings)))

    def __repr__(self) -> str:
        return f"FillMask({self.path!r}, threads={self.threads})"


def pipeline(task: str, model: Union[str, "os.PathLike[str]"], **kwargs: Any) -> FillMask:
    """``pipeline("fill-mask", model=path)``: the one transformers pipeline nanobert offers here
    (embeddings and pair scores are :class:`SentenceTransformer` and :class:`CrossEncoder`)."""
    if task != "fill-mask":
        raise ValueError(
            f"pipeline task {task!r} is not offered by nanobert's Python package: use 'fill-mask', "
            "SentenceTransformer (embeddings) or CrossEncoder (pair scores)"
        )
    return FillMask(model, **kwargs)
