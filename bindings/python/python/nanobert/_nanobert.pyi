"""Type stubs of the native module ``nanobert._nanobert`` (bindings/python/src)."""

from os import PathLike
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, PathLike[str]]

def physical_cores() -> int:
    """Physical cores of this machine (the default pool size)."""

def resolve_model(model: str, revision: Optional[str] = None) -> str:
    """A local path as given, else a Hub id's snapshot folder in the Hugging Face cache
    (``FileNotFoundError`` when it is not cached)."""

def resolve_threads(threads: Optional[int] = None) -> Tuple[int, str]:
    """The pool size for ``threads`` and the rule that gave it (``threads=``, ``RAYON_NUM_THREADS``,
    ``OMP_NUM_THREADS``, ``physical cores``)."""

class Embedder:
    """A sentence-embedding checkpoint on its own thread pool."""

    def __init__(self, path: _Path, threads: Optional[int] = None, precision: str = "f32") -> None: ...
    def encode(
        self, texts: List[str], prompt: Optional[str] = None, batch_size: int = 32
    ) -> npt.NDArray[np.float32]:
        """``[len(texts), dimension]`` float32 (GIL released; NumPy owns nanobert's buffer)."""
    @property
    def dimension(self) -> int: ...
    @property
    def max_seq_length(self) -> int: ...
    @property
    def prompts(self) -> Dict[str, str]: ...
    @property
    def default_prompt_name(self) -> Optional[str]: ...
    @property
    def similarity_fn_name(self) -> str: ...
    @property
    def normalizes(self) -> bool: ...
    @property
    def threads(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def precision(self) -> str: ...

class CrossEncoder:
    """A sequence-classification checkpoint scoring text pairs."""

    def __init__(self, path: _Path, threads: Optional[int] = None, precision: str = "f32") -> None: ...
    def predict(
        self, pairs: List[Tuple[str, str]], batch_size: int = 32
    ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``(logits, scores)``, each ``[len(pairs), num_labels]``."""
    @property
    def num_labels(self) -> int: ...
    @property
    def labels(self) -> List[str]: ...
    @property
    def activation_fn(self) -> str: ...
    @property
    def max_length(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def precision(self) -> str: ...

class FillMask:
    """A masked-language-model checkpoint."""

    def __init__(self, path: _Path, threads: Optional[int] = None, precision: str = "f32") -> None: ...
    def predict(self, texts: List[str], top_k: int = 5) -> List[List[List[Tuple[float, int, str, str]]]]:
        """Per text, per ``[MASK]``: ``(score, token id, token string, filled text)``, best first."""
    @property
    def mask_token(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def precision(self) -> str: ...
