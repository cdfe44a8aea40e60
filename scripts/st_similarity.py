"""sentence-transformers' side of `nanobert similarity` and `nanobert embed`, for comparing.

    python3 scripts/st_similarity.py MODEL_DIR "query" "doc one" "doc two" ...

Prints the cosine of the query with each document (in the order given) and the first six numbers of
the query's embedding. Used by docs/bert-layer-by-layer.md.
"""

import os
import sys

import numpy as np
from sentence_transformers import SentenceTransformer

model = SentenceTransformer(os.path.expanduser(sys.argv[1]), device="cpu")
query, docs = sys.argv[2], sys.argv[3:]
v = model.encode([query] + docs)
for doc, d in zip(docs, v[1:]):
    cos = float(np.dot(v[0], d) / (np.linalg.norm(v[0]) * np.linalg.norm(d)))
    print(f"{cos:>7.4f}  {doc}")
print(f"{query}\n  [{', '.join(f'{x:+.4f}' for x in v[0][:6])}, ...] ({len(v[0])} dims)")
