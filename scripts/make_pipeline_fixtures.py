"""Models as the current sentence-transformers saves them, and what it computes with them.

    python3 -m pip install -r scripts/requirements.txt
    HF_HUB_OFFLINE=1 python3 scripts/make_pipeline_fixtures.py

Writes into tests/fixtures/pipelines/ (from the random-weight models of
tests/fixtures/checkpoints, written by scripts/make_checkpoint_fixtures.py):

- st-truncate-dim/: a SentenceTransformer saved with `truncate_dim` (Matryoshka), and its
  `encode` output;
- ce-identity/ and ce-sigmoid/: a CrossEncoder saved by sentence-transformers 6 (its
  `config_sentence_transformers.json` carries `model_type` and `activation_fn`; its
  `sentence_bert_config.json` a sequence-classification Transformer), with an identity and the
  default sigmoid activation, and their `predict` scores;
- st.json: the expected outputs.
"""

import json
import shutil
from pathlib import Path

import sentence_transformers
import torch
import transformers
from sentence_transformers import CrossEncoder, SentenceTransformer

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "tests/fixtures/checkpoints"
OUT = REPO / "tests/fixtures/pipelines"
TEXTS = ["Hello world", "the cat sat on the mat", "paris is the capital of france"]
QUERY = "where is the capital of france?"
DOCS = ["paris is the capital of france.", "the cat sat on the mat.", "berlin is a city in germany."]


def save(model, name):
    d = OUT / name
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(str(d))
    (d / "README.md").unlink(missing_ok=True)  # a generated model card
    return d


def main():
    torch.set_num_threads(1)
    out = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "sentence_transformers": sentence_transformers.__version__}}

    st = SentenceTransformer(str(SRC / "st-dense"), device="cpu", truncate_dim=4)
    d = save(st, "st-truncate-dim")
    st = SentenceTransformer(str(d), device="cpu")  # as saved
    assert st.truncate_dim == 4
    full = SentenceTransformer(str(SRC / "st-dense"), device="cpu")
    out["st-truncate-dim"] = {"texts": TEXTS, "embeddings": st.encode(TEXTS).tolist(),
                              "full_embeddings": full.encode(TEXTS).tolist()}

    pairs = [[QUERY, doc] for doc in DOCS]
    for name, act in [("ce-identity", torch.nn.Identity()), ("ce-sigmoid", None)]:
        ce = CrossEncoder(str(SRC / "head-rerank"), device="cpu", activation_fn=act)
        d = save(ce, name)
        ce = CrossEncoder(str(d), device="cpu")  # as saved
        out[name] = {"query": QUERY, "docs": DOCS, "activation_fn": type(ce.activation_fn).__name__,
                     "scores": [float(s) for s in ce.predict(pairs)],
                     "rank": [{"corpus_id": int(r["corpus_id"]), "score": float(r["score"])}
                              for r in ce.rank(QUERY, DOCS)]}
        print(name, out[name]["activation_fn"], out[name]["scores"])
    (OUT / "st.json").write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", OUT / "st.json")


if __name__ == "__main__":
    main()
