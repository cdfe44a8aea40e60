"""Writes bindings/python/tests/fixtures/st-api.json: what sentence-transformers' own API returns
on the checkpoint fixtures (tests/fixtures/checkpoints), for the Python package's tests.

    HF_HUB_OFFLINE=1 python3 scripts/make_python_fixtures.py

Needs scripts/requirements.txt (sentence-transformers 6.2.0, torch 2.15.0). The embeddings of
tests/fixtures/checkpoints/*.expected.json come from scripts/make_checkpoint_fixtures.py; this
script adds the encode() arguments (normalize_embeddings, truncate_dim, precision, prompts),
encode_query / encode_document, similarity by each function, and CrossEncoder predict / rank.
"""

import json
import os
import platform
import sys

import numpy as np
import sentence_transformers
import torch
from sentence_transformers import CrossEncoder, SentenceTransformer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CKPT = os.path.join(ROOT, "tests", "fixtures", "checkpoints")
OUT = os.path.join(ROOT, "bindings", "python", "tests", "fixtures", "st-api.json")

TEXTS = ["Hello world", "The cat sat on the mat.", "A man is eating bread in Paris!", "dog", "cats and dogs"]


def lst(a):
    return np.asarray(a).tolist()


def main():
    torch.manual_seed(0)
    out = {"versions": {"python": platform.python_version(), "torch": torch.__version__,
                        "sentence-transformers": sentence_transformers.__version__, "numpy": np.__version__},
           "texts": TEXTS, "encode": [], "query_document": [], "similarity": [], "cross_encoder": []}
    for name in ["st-mean", "st-dense", "st-prompt"]:
        m = SentenceTransformer(os.path.join(CKPT, name), device="cpu")
        for kw in [{}, {"normalize_embeddings": True}, {"truncate_dim": 8}, {"truncate_dim": 8, "normalize_embeddings": True},
                   {"precision": "int8"}, {"precision": "uint8"}, {"precision": "binary"}, {"precision": "ubinary"},
                   {"prompt": "search: "}, {"batch_size": 2}]:
            e = m.encode(TEXTS, **kw)
            out["encode"].append({"model": name, "kwargs": kw, "dtype": str(e.dtype), "value": lst(e)})
        e = m.encode(TEXTS[1])
        out["encode"].append({"model": name, "kwargs": {}, "single": TEXTS[1], "dtype": str(e.dtype), "value": lst(e)})
        out["query_document"].append({"model": name, "prompts": m.prompts, "default_prompt_name": m.default_prompt_name,
                                      "query": lst(m.encode_query(TEXTS)), "document": lst(m.encode_document(TEXTS)),
                                      "dimension": m.get_sentence_embedding_dimension(), "max_seq_length": m.max_seq_length})
        emb = m.encode(TEXTS)
        for fn in ["cosine", "dot", "euclidean", "manhattan"]:
            m.similarity_fn_name = fn
            out["similarity"].append({"model": name, "fn": fn, "matrix": lst(m.similarity(emb[:2], emb)),
                                      "pairwise": lst(m.similarity_pairwise(emb[:2], emb[2:4]))})
    pairs = [["where is the capital of france?", "paris is the capital of france."],
             ["where is the capital of france?", "the cat sat on the mat."],
             ["who lives in paris?", "john lives in paris."]]
    for name in ["head-rerank", "head-seqcls"]:
        ce = CrossEncoder(os.path.join(CKPT, name), device="cpu")
        rec = {"model": name, "pairs": pairs, "num_labels": ce.num_labels, "predict": lst(ce.predict(pairs)),
               "single": lst(ce.predict(pairs[0]))}
        if ce.num_labels > 1:
            rec["predict_softmax"] = lst(ce.predict(pairs, apply_softmax=True))
        else:
            docs = [p[1] for p in pairs]
            rec["rank"] = ce.rank(pairs[0][0], docs, return_documents=True)
            rec["rank_top2"] = ce.rank(pairs[0][0], docs, top_k=2)
        out["cross_encoder"].append(rec)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
