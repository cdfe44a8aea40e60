"""``SentenceTransformer``: sentence-transformers' embedding API over nanobert."""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _args
from ._nanobert import Embedder
from .quantization import PRECISIONS, quantize_embeddings
from .similarity import SimilarityFunction, pairwise, similarity_function


def _rebuild(cls, path: str, settings: Dict[str, Any]):
    return cls(path, **settings)


class SentenceTransformer:
    """A sentence-embedding model from a local checkpoint directory, with the API of
    ``sentence_transformers.SentenceTransformer`` (6.x): the same names, defaults and results.

    Args:
        model_name_or_path: a checkpoint directory (``config.json``, ``model.safetensors``,
            ``tokenizer.json`` or ``vocab.txt``, and ``modules.json`` & co. for a
            sentence-transformers model), or a Hub id found in the Hugging Face cache (downloaded
            there by ``huggingface_hub`` when it is installed).
        revision: the branch, tag or commit of a Hub id (default ``main``).
        threads: the size of this model's own thread pool; ``None``: ``RAYON_NUM_THREADS``, else
            ``OMP_NUM_THREADS`` (which Ray, Spark and Dask set per worker), else the physical cores.
        precision: the Linear layers' weights: ``"f32"`` (default), ``"f16"``, ``"bf16"`` or
            ``"int8"`` (SmoothQuant-calibrated). Not to be confused with ``encode(precision=...)``,
            which quantizes the *output* embeddings.
        device: ``None`` or ``"cpu"``; anything else is a ``ValueError``.
        prompts, default_prompt_name, similarity_fn_name, truncate_dim: as in
            sentence-transformers (override what the checkpoint says).

    Models pickle as their path and settings, so Ray actors, Spark closures and
    ``multiprocessing`` workers load their own copy (the weights are memory-mapped: processes on
    one machine share their pages).
    """

    def __init__(
        self,
        model_name_or_path: Union[str, "os.PathLike[str]"],
        threads: Optional[int] = None,
        precision: str = "f32",
        *,
        device: Optional[str] = None,
        prompts: Optional[Dict[str, str]] = None,
        default_prompt_name: Optional[str] = None,
        similarity_fn_name: Optional[Union[str, SimilarityFunction]] = None,
        truncate_dim: Optional[int] = None,
        trust_remote_code: bool = False,
        backend: str = "torch",
        revision: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        _args.check_device(device)
        _args.refuse("trust_remote_code", trust_remote_code, False, "nanobert runs BERT checkpoints only, no remote code")
        _args.refuse("backend", backend, "torch", "nanobert is its own backend (the argument selects a torch runtime)")
        unsupported = {k: v for k, v in kwargs.items() if v is not None and v is not False}
        if unsupported:
            raise ValueError(
                f"SentenceTransformer() arguments nanobert cannot honour: {sorted(unsupported)} "
                "(it loads one checkpoint: a directory or a Hub id, by the revision given; no cache folder or module list)"
            )
        if threads is not None:
            _args.positive("threads", threads)
        if truncate_dim is not None:
            _args.positive("truncate_dim", truncate_dim)
        path = _args.checkpoint_dir(model_name_or_path, revision)
        self._model = Embedder(path, threads, precision)
        self._settings: Dict[str, Any] = dict(
            threads=threads,
            precision=precision,
            prompts=None if prompts is None else dict(prompts),
            default_prompt_name=default_prompt_name,
            similarity_fn_name=similarity_fn_name,
            truncate_dim=truncate_dim,
        )
        # sentence-transformers 6: "query" and "document" always exist (empty unless configured);
        # the caller's prompts win over the checkpoint's.
        merged: Dict[str, str] = {"query": "", "document": ""}
        merged.update(self._model.prompts)
        if prompts:
            merged.update(prompts)
        self.prompts: Dict[str, str] = merged
        self.default_prompt_name: Optional[str] = default_prompt_name or self._model.default_prompt_name
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(
                f"Default prompt name '{self.default_prompt_name}' not found in the configured prompts "
                f"dictionary with keys {list(self.prompts.keys())!r}."
            )
        self.truncate_dim: Optional[int] = truncate_dim
        self._similarity_fn_name: str = "cosine"
        self.similarity_fn_name = similarity_fn_name or self._model.similarity_fn_name

    # ---------------------------------------------------------------- settings

    @property
    def similarity_fn_name(self) -> str:
        """How :meth:`similarity` compares embeddings: ``cosine``, ``dot``, ``euclidean`` or ``manhattan``."""
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: Union[str, SimilarityFunction]) -> None:
        name = value.value if isinstance(value, SimilarityFunction) else str(value)
        similarity_function(name)  # refuses unknown names
        self._similarity_fn_name = "dot" if name == "dot_product" else name

    @property
    def max_seq_length(self) -> int:
        """The longest input in tokens (``[CLS]`` and ``[SEP]`` included); longer texts are truncated."""
        return self._model.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if value != self._model.max_seq_length:
            raise ValueError(
                f"max_seq_length={value!r} cannot be honoured: nanobert fixes it when the checkpoint is loaded "
                f"({self._model.max_seq_length}, from sentence_bert_config.json or tokenizer_config.json)"
            )

    @property
    def device(self) -> str:
        """Always ``"cpu"``."""
        return "cpu"

    @property
    def threads(self) -> int:
        """The number of threads of this model's pool in this process."""
        return self._model.threads

    @property
    def precision(self) -> str:
        """The Linear layers' precision (``f32``, ``f16``, ``bf16``, ``int8``)."""
        return self._model.precision

    @property
    def path(self) -> str:
        """The checkpoint directory."""
        return str(self._model.path)

    def get_sentence_embedding_dimension(self) -> int:
        """The width of :meth:`encode`'s vectors (``truncate_dim`` applied)."""
        d = self._model.dimension
        return d if self.truncate_dim is None else min(d, self.truncate_dim)

    def get_embedding_dimension(self) -> int:
        """The same as :meth:`get_sentence_embedding_dimension` (sentence-transformers 6's name)."""
        return self.get_sentence_embedding_dimension()

    def get_max_seq_length(self) -> int:
        """:attr:`max_seq_length`."""
        return self.max_seq_length

    # ---------------------------------------------------------------- encoding

    def _resolve_prompt(self, prompt: Optional[str], prompt_name: Optional[str]) -> Optional[str]:
        if prompt is None:
            if prompt_name is not None:
                try:
                    return self.prompts[prompt_name]
                except KeyError:
                    raise ValueError(
                        f"Prompt name '{prompt_name}' not found in the configured prompts dictionary with keys "
                        f"{list(self.prompts.keys())!r}."
                    ) from None
            if self.default_prompt_name is not None:
                return self.prompts.get(self.default_prompt_name)
        return prompt

    def encode(
        self,
        sentences: Union[str, Sequence[str], None] = None,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
        *,
        inputs: Union[str, Sequence[str], None] = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embeddings of ``sentences``: float32 ``[len(sentences), dim]``, or ``[dim]`` for one ``str``.

        The texts are sorted by length, run in batches of ``batch_size`` (each padded to its own
        longest text) and returned in input order; the GIL is released meanwhile. Then, as in
        sentence-transformers: ``truncate_dim`` keeps the first dimensions, ``normalize_embeddings``
        scales to unit length, ``precision`` quantizes (``int8``/``uint8`` ranges from the
        embeddings themselves, ``binary``/``ubinary`` packed bits). The default result is the
        buffer nanobert wrote, handed to NumPy without a copy.

        Refused with ``ValueError``: ``convert_to_tensor=True`` and ``convert_to_numpy=False``
        (no torch), ``device`` other than CPU, ``output_value`` other than
        ``"sentence_embedding"``, multi-process ``pool`` / ``chunk_size``, extra keyword
        arguments, an unknown ``prompt_name`` or ``precision``, an empty text.
        """
        if inputs is not None:
            if sentences is not None:
                raise ValueError("give the texts once: as sentences or as inputs, not both")
            sentences = inputs
        _args.refuse("convert_to_tensor", convert_to_tensor, False, "nanobert returns NumPy arrays, not torch tensors")
        _args.refuse("convert_to_numpy", convert_to_numpy, True, "nanobert returns NumPy arrays only (no torch tensors)")
        _args.check_device(device)
        _args.refuse(
            "output_value", output_value, "sentence_embedding", "nanobert returns sentence embeddings only"
        )
        if pool is not None or chunk_size is not None:
            raise ValueError(
                "pool/chunk_size (multi-process encoding) cannot be honoured: one nanobert model already uses "
                "its threads; to use several machines see examples/python/ray_embed.py"
            )
        _args.refuse_extra("encode", kwargs)
        if precision not in PRECISIONS:
            raise ValueError(f"Precision {precision!r} is not supported, must be one of {PRECISIONS}")
        _args.positive("batch_size", batch_size)
        texts, single = _args.texts(sentences)
        resolved = self._resolve_prompt(prompt, prompt_name)
        if not texts:
            emb = np.zeros((0, self._model.dimension), dtype=np.float32)
        elif show_progress_bar:
            emb = self._encode_with_progress(texts, resolved, batch_size)
        else:
            emb = self._model.encode(texts, resolved, batch_size)
        truncate_dim = truncate_dim if truncate_dim is not None else self.truncate_dim
        if truncate_dim is not None:
            emb = emb[:, : _args.positive("truncate_dim", truncate_dim)]
        if normalize_embeddings:
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), np.float32(1e-12))
        if precision != "float32" and len(emb):
            emb = quantize_embeddings(emb, precision=precision)
        return emb[0] if single else emb

    def _encode_with_progress(self, texts: List[str], prompt: Optional[str], batch_size: int) -> np.ndarray:
        """:meth:`encode` in chunks of 16 batches with a progress line on stderr."""
        chunk = batch_size * 16
        parts = []
        for start in range(0, len(texts), chunk):
            parts.append(self._model.encode(texts[start : start + chunk], prompt, batch_size))
            done = min(start + chunk, len(texts))
            sys.stderr.write(f"\rEncoding: {done}/{len(texts)} texts")
            sys.stderr.flush()
        sys.stderr.write("\n")
        return np.concatenate(parts, axis=0)

    def encode_query(self, sentences: Union[str, Sequence[str], None] = None, prompt_name: Optional[str] = None,
                     prompt: Optional[str] = None, **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the ``"query"`` prompt unless a prompt is given (sentence-transformers 6:
        ``"query"`` is empty unless the model or the caller configures it)."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, sentences: Union[str, Sequence[str], None] = None, prompt_name: Optional[str] = None,
                        prompt: Optional[str] = None, **kwargs: Any) -> np.ndarray:
        """:meth:`encode` with the first of the ``"document"``, ``"passage"``, ``"corpus"`` prompts that
        exists, unless a prompt is given (``"document"`` always exists, empty unless configured)."""
        if prompt_name is None and prompt is None:
            for candidate in ("document", "passage", "corpus"):
                if candidate in self.prompts:
                    prompt_name = candidate
                    break
        return self.encode(sentences, prompt_name=prompt_name, prompt=prompt, **kwargs)

    # ---------------------------------------------------------------- similarity

    def similarity(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """``[len(embeddings1), len(embeddings2)]`` float32 similarities by :attr:`similarity_fn_name`
        (1-D inputs count as one row)."""
        return similarity_function(self.similarity_fn_name)(embeddings1, embeddings2).astype(np.float32, copy=False)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> np.ndarray:
        """``[n]`` similarities of ``embeddings1[i]`` and ``embeddings2[i]``."""
        return pairwise(embeddings1, embeddings2, self.similarity_fn_name)

    # ---------------------------------------------------------------- the host

    def __reduce__(self):
        return (_rebuild, (type(self), self.path, dict(self._settings)))

    def __repr__(self) -> str:
        return (
            f"SentenceTransformer({self.path!r}, threads={self.threads}, precision={self.precision!r}, "
            f"dim={self.get_sentence_embedding_dimension()}, max_seq_length={self.max_seq_length}, "
            f"similarity_fn_name={self.similarity_fn_name!r})"
        )
