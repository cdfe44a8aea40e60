"""``CrossEncoder``: sentence-transformers' pair-scoring API over nanobert."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _args
from ._nanobert import CrossEncoder as _Native


def _rebuild(cls, path: str, settings: Dict[str, Any]):
    return cls(path, **settings)


class CrossEncoder:
    """A ``BertForSequenceClassification`` checkpoint scoring text pairs, with the API of
    ``sentence_transformers.CrossEncoder`` (6.x).

    A one-label checkpoint (a reranker) applies the activation its ``config.json`` names
    (``sentence_transformers.activation_fn``; Sigmoid by default); several labels give the raw
    logits (Identity), or probabilities with ``apply_softmax=True``.
    """

    def __init__(
        self,
        model_name_or_path: Union[str, "os.PathLike[str]"],
        threads: Optional[int] = None,
        precision: str = "f32",
        *,
        device: Optional[str] = None,
        num_labels: Optional[int] = None,
        max_length: Optional[int] = None,
        activation_fn: Any = None,
        trust_remote_code: bool = False,
        backend: str = "torch",
        revision: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        _args.check_device(device)
        _args.refuse("trust_remote_code", trust_remote_code, False, "nanobert runs BERT checkpoints only")
        _args.refuse("backend", backend, "torch", "nanobert is its own backend")
        _args.refuse("activation_fn", activation_fn, None, "nanobert applies the checkpoint's activation (Sigmoid or Identity)")
        unsupported = {k: v for k, v in kwargs.items() if v is not None and v is not False}
        if unsupported:
            raise ValueError(f"CrossEncoder() arguments nanobert cannot honour: {sorted(unsupported)}")
        if threads is not None:
            _args.positive("threads", threads)
        path = _args.checkpoint_dir(model_name_or_path, revision)
        self._model = _Native(path, threads, precision)
        if num_labels is not None and num_labels != self._model.num_labels:
            raise ValueError(
                f"num_labels={num_labels} cannot be honoured: the checkpoint has {self._model.num_labels} "
                "(nanobert does not add untrained heads)"
            )
        if max_length is not None and max_length != self._model.max_length:
            raise ValueError(
                f"max_length={max_length} cannot be honoured: nanobert fixes it at load time ({self._model.max_length})"
            )
        self._settings: Dict[str, Any] = dict(threads=threads, precision=precision)

    @property
    def num_labels(self) -> int:
        """Outputs per pair."""
        return self._model.num_labels

    @property
    def max_length(self) -> int:
        """The longest pair in tokens; longer pairs are truncated (longest first)."""
        return self._model.max_length

    @property
    def activation_fn(self) -> str:
        """``"Sigmoid"`` or ``"Identity"``: what :meth:`predict` applies to the logits."""
        return self._model.activation_fn

    @property
    def threads(self) -> int:
        """The number of threads of this model's pool in this process."""
        return self._model.threads

    @property
    def path(self) -> str:
        """The checkpoint directory."""
        return str(self._model.path)

    @property
    def device(self) -> str:
        """Always ``"cpu"``."""
        return "cpu"

    def predict(
        self,
        sentences: Union[Sequence[Tuple[str, str]], Tuple[str, str], None] = None,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
        apply_softmax: Optional[bool] = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
        *,
        inputs: Any = None,
        **kwargs: Any,
    ) -> Union[np.ndarray, np.floating]:
        """Scores of text pairs: ``[n]`` float32 for a one-label model, ``[n, num_labels]`` otherwise;
        one pair ``(a, b)`` gives a scalar (or ``[num_labels]``)."""
        if inputs is not None:
            sentences = inputs
        if prompt is not None or prompt_name is not None:
            raise ValueError("prompt/prompt_name cannot be honoured by nanobert's CrossEncoder (no prompts)")
        _args.refuse("activation_fn", activation_fn, None, "nanobert applies the checkpoint's activation")
        _args.refuse("convert_to_tensor", convert_to_tensor, False, "nanobert returns NumPy arrays, not torch tensors")
        _args.refuse("convert_to_numpy", convert_to_numpy, True, "nanobert returns NumPy arrays only")
        _args.check_device(device)
        if pool is not None or chunk_size is not None:
            raise ValueError("pool/chunk_size (multi-process prediction) cannot be honoured by nanobert")
        _args.refuse_extra("predict", kwargs)
        _args.positive("batch_size", batch_size)
        del show_progress_bar  # a pair batch is short; nothing to show
        pairs, single = _args.pairs(sentences)
        if not pairs:
            return np.zeros((0,) if self.num_labels == 1 else (0, self.num_labels), dtype=np.float32)
        _, scores = self._model.predict(pairs, batch_size)
        if self.num_labels == 1:
            scores = scores[:, 0]
        elif apply_softmax:
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return scores[0] if single else scores

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
        device: Optional[str] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """Documents sorted by score for ``query``, best first: ``[{"corpus_id", "score"[, "text"]}]``
        (the first ``top_k`` when given). Needs a one-label model, as sentence-transformers."""
        if self.num_labels != 1:
            raise ValueError(
                f"CrossEncoder.rank() only works for models with num_labels=1. Consider using "
                f"CrossEncoder.predict() with input pairs instead. This model has {self.num_labels} labels."
            )
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        docs, _ = _args.texts(documents, "documents")
        scores = self.predict(
            [(query, d) for d in docs],
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
            device=device,
            pool=pool,
            chunk_size=chunk_size,
        )
        results = []
        for i, s in enumerate(np.atleast_1d(scores)):
            r: Dict[str, Any] = {"corpus_id": i, "score": float(s)}
            if return_documents:
                r["text"] = docs[i]
            results.append(r)
        results.sort(key=lambda r: r["score"], reverse=True)
        return results[:top_k] if top_k is not None else results

    def __reduce__(self):
        return (_rebuild, (type(self), self.path, dict(self._settings)))

    def __repr__(self) -> str:
        return f"CrossEncoder({self.path!r}, threads={self.threads}, num_labels={self.num_labels})"
