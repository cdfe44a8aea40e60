"""nanobert from Python: BERT on the CPU with the sentence-transformers API, no torch.

    >>> from nanobert import SentenceTransformer
    >>> model = SentenceTransformer("path/to/all-MiniLM-L6-v2")
    >>> embeddings = model.encode(["The cat sits on the mat.", "A dog."])   # float32 [2, 384]
    >>> model.similarity(embeddings, embeddings)                             # [2, 2]

Models are local checkpoint directories (``config.json``, ``model.safetensors``,
``tokenizer.json`` or ``vocab.txt``, and the sentence-transformers files when present); nanobert
does not download from the Hugging Face Hub.

Each model runs on its own thread pool, sized ``threads=`` > ``RAYON_NUM_THREADS`` >
``OMP_NUM_THREADS`` > physical cores, built on first use in each process (so forked workers
work), with the GIL released while it runs. Models pickle as their path and settings.
"""

from ._nanobert import physical_cores, resolve_threads
from .cross_encoder import CrossEncoder
from .fill_mask import FillMask, pipeline
from .sentence_transformer import SentenceTransformer
from .similarity import SimilarityFunction, similarity

__all__ = [
    "CrossEncoder",
    "FillMask",
    "SentenceTransformer",
    "SimilarityFunction",
    "physical_cores",
    "pipeline",
    "resolve_threads",
    "similarity",
]
__version__ = "0.1.0"
