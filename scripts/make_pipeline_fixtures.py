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
- added-tokens/ (and added-tokens-saved/, as transformers saves it): added tokens with every
  flag (single_word, lstrip, rstrip, normalized), special and plain, and their ids;
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




# ----------------------------------------------------------------------------------------------- added tokens

ADDED = {
    "103": {"content": "[MASK]", "special": True, "lstrip": True, "rstrip": False, "single_word": False,
            "normalized": False},
    "30522": {"content": "<ent>", "special": False, "lstrip": False, "rstrip": False, "single_word": True,
              "normalized": False},
    "30523": {"content": "<L>", "special": False, "lstrip": True, "rstrip": False, "single_word": False,
              "normalized": False},
    "30524": {"content": "<R>", "special": False, "lstrip": False, "rstrip": True, "single_word": False,
              "normalized": False},
    "30525": {"content": "<norm>", "special": False, "lstrip": False, "rstrip": False, "single_word": False,
              "normalized": True},
    "30526": {"content": "<raw>", "special": False, "lstrip": False, "rstrip": False, "single_word": False,
              "normalized": False},
    "30527": {"content": "<sw>", "special": True, "lstrip": False, "rstrip": False, "single_word": True,
              "normalized": False},
    "30528": {"content": "<sp-l>", "special": True, "lstrip": True, "rstrip": True, "single_word": False,
              "normalized": False},
}
ADDED_TEXTS = [
    "a <ent> b and a<ent>b and <ent>b",
    "x <L> y and x<L>y and x   <L>   y",
    "x <R> y and x<R>y and x   <R>   y",
    "the <NORM> and <norm> and <Norm>",
    "the <RAW> and <raw> and <Raw>",
    "the [MASK] end and the[MASK]end and the   [MASK]   end",
    "a <sw> b and a<sw>b",
    "a <sp-l> b and a  <sp-l>  b",
]


def added_tokens_case():
    from transformers import AutoTokenizer

    d = OUT / "added-tokens"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    shutil.copy(REPO / "tests/fixtures/tiny-bert/vocab.txt", d / "vocab.txt")
    (d / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 64,
        "added_tokens_decoder": ADDED}, indent=1) + "\n")
    tok = AutoTokenizer.from_pretrained(str(d))
    saved = OUT / "added-tokens-saved"
    shutil.rmtree(saved, ignore_errors=True)
    tok.save_pretrained(str(saved))  # the same tokenizer as transformers writes it (tokenizer.json too)
    again = AutoTokenizer.from_pretrained(str(saved))
    rows = []
    for text in ADDED_TEXTS:
        ids = tok(text)["input_ids"]
        assert again(text)["input_ids"] == ids, text
        offsets = [list(o) for o in tok(text, return_offsets_mapping=True)["offset_mapping"]]
        rows.append({"text": text, "ids": ids, "tokens": tok.convert_ids_to_tokens(ids), "offsets": offsets})
        print(f"  {text!r}: {tok.convert_ids_to_tokens(ids)}")
    return {"class": type(tok).__name__, "rows": rows}


if __name__ == "__main__":
    main()
    out_path = OUT / "st.json"
    data = json.loads(out_path.read_text()) if out_path.exists() else {}
    data["added-tokens"] = added_tokens_case()
    out_path.write_text(json.dumps(data, indent=1) + "\n")
