"""Every checkpoint fixture of tests/fixtures/checkpoints, through the Python API, against the
values sentence-transformers / transformers computed on it (within 1e-5)."""

import numpy as np
import pytest

import nanobert
from conftest import CKPT, ROOT, assert_close, load_json

ST_FIXTURES = sorted(p.name[: -len(".expected.json")] for p in CKPT.glob("st-*.expected.json"))


def test_there_are_fixtures():
    assert len(ST_FIXTURES) >= 15, ST_FIXTURES


@pytest.mark.parametrize("name", ST_FIXTURES)
def test_sentence_transformers_fixture(name):
    exp = load_json(CKPT / f"{name}.expected.json")
    model = nanobert.SentenceTransformer(CKPT / name)
    for run in exp["runs"]:
        got = model.encode(run["texts"], prompt_name=run["prompt_name"])
        assert got.dtype == np.float32
        assert_close(got, run["embeddings"], f"{name} prompt_name={run['prompt_name']!r}")
    assert model.get_sentence_embedding_dimension() == exp["embedding_dimension"]
    sim = exp["similarity"]
    assert model.similarity_fn_name == sim["fn"]
    q = model.encode(sim["query"])
    d = model.encode(sim["docs"])
    assert_close(model.similarity(q, d)[0], sim["scores"], f"{name} similarity ({sim['fn']})")


def test_cross_encoder_rerank_fixture():
    exp = load_json(CKPT / "head-rerank.expected.json")
    ce = nanobert.CrossEncoder(CKPT / "head-rerank")
    pairs = [(exp["query"], d) for d in exp["docs"]]
    assert_close(ce.predict(pairs), exp["scores"], "head-rerank predict")
    ranked = ce.rank(exp["query"], exp["docs"])
    assert [r["corpus_id"] for r in ranked] == [r["corpus_id"] for r in exp["rank"]]
    assert_close([r["score"] for r in ranked], [r["score"] for r in exp["rank"]], "head-rerank rank")


def test_cross_encoder_pairs_fixture():
    exp = load_json(CKPT / "head-seqcls.expected.json")
    ce = nanobert.CrossEncoder(CKPT / "head-seqcls")
    assert ce.num_labels == 3 and ce.activation_fn == "Identity"
    assert_close(ce.predict([tuple(p) for p in exp["pairs"]]), exp["pair_logits"], "head-seqcls pair logits")


def test_fill_mask_fixture():
    exp = load_json(ROOT / "tests" / "fixtures" / "fill-mask" / "tiny-bert-fill-mask.json")
    fm = nanobert.FillMask(ROOT / exp["model"])
    for r in exp["results"]:
        got = fm(r["text"], top_k=exp["top_k"])
        masks = [got] if len(r["masks"]) == 1 else got
        assert len(masks) == len(r["masks"]), r["text"]
        for g, w in zip(masks, r["masks"]):
            assert [c["token"] for c in g] == [c["id"] for c in w["top"]], r["text"]
            assert [c["token_str"] for c in g] == [c["pipeline_token_str"] for c in w["top"]], r["text"]
            assert_close([c["score"] for c in g], [c["prob"] for c in w["top"]], f"fill-mask {r['text']!r}")


def test_minilm_against_sentence_transformers(minilm):
    exp = load_json(ROOT / "tests" / "fixtures" / "minilm" / "minilm-embeddings.json")
    got = minilm.encode(exp["sentences"])
    assert got.shape == (len(exp["sentences"]), 384)
    assert_close(got, exp["embeddings"], "all-MiniLM-L6-v2")
