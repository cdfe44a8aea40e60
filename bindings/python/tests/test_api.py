"""The sentence-transformers API: arguments against what sentence-transformers 6.2 returned
(tests/fixtures/st-api.json, scripts/make_python_fixtures.py), results' shape and memory, and
every refusal."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import nanobert
from conftest import CKPT, assert_close


def model(name):
    return nanobert.SentenceTransformer(CKPT / name)


def case_id(c):
    return f"{c['model']}-{c['kwargs']}{'-single' if 'single' in c else ''}"


def encode_cases():
    from conftest import HERE, load_json

    return load_json(HERE / "fixtures" / "st-api.json")["encode"]


@pytest.mark.parametrize("case", encode_cases(), ids=case_id)
def test_encode_arguments_like_sentence_transformers(case, st_api):
    m = model(case["model"])
    got = m.encode(case["single"] if "single" in case else st_api["texts"], **case["kwargs"])
    assert str(got.dtype) == case["dtype"], case
    if case["dtype"] == "float32":
        assert_close(got, case["value"], case_id(case))
    else:
        # Quantized: buckets and bits. A value on a bucket edge may fall either side by one.
        want = np.asarray(case["value"])
        assert got.shape == want.shape
        if "int8" in case["dtype"] and case["kwargs"].get("precision", "").endswith("int8"):
            assert np.abs(got.astype(int) - want).max() <= 1, case_id(case)
        else:
            assert np.array_equal(got, want), case_id(case)


def test_encode_query_and_document(st_api):
    for c in st_api["query_document"]:
        m = model(c["model"])
        assert m.prompts == c["prompts"] and m.default_prompt_name == c["default_prompt_name"]
        assert_close(m.encode_query(st_api["texts"]), c["query"], f"{c['model']} encode_query")
        assert_close(m.encode_document(st_api["texts"]), c["document"], f"{c['model']} encode_document")
        assert m.get_sentence_embedding_dimension() == c["dimension"]
        assert m.max_seq_length == c["max_seq_length"]


def test_similarity_functions(st_api):
    for c in st_api["similarity"]:
        m = model(c["model"])
        m.similarity_fn_name = c["fn"]
        emb = m.encode(st_api["texts"])
        assert_close(m.similarity(emb[:2], emb), c["matrix"], f"{c['model']} {c['fn']}")
        assert_close(m.similarity_pairwise(emb[:2], emb[2:4]), c["pairwise"], f"{c['model']} {c['fn']} pairwise")


def test_cross_encoder_like_sentence_transformers(st_api):
    for c in st_api["cross_encoder"]:
        ce = nanobert.CrossEncoder(CKPT / c["model"])
        pairs = [tuple(p) for p in c["pairs"]]
        assert ce.num_labels == c["num_labels"]
        assert_close(ce.predict(pairs), c["predict"], f"{c['model']} predict")
        assert_close(ce.predict(pairs[0]), c["single"], f"{c['model']} one pair")
        if "predict_softmax" in c:
            assert_close(ce.predict(pairs, apply_softmax=True), c["predict_softmax"], f"{c['model']} softmax")
            with pytest.raises(ValueError, match="num_labels=1"):
                ce.rank("q", ["d"])
        else:
            docs = [p[1] for p in c["pairs"]]
            got = ce.rank(c["pairs"][0][0], docs, return_documents=True)
            assert [(r["corpus_id"], r["text"]) for r in got] == [(r["corpus_id"], r["text"]) for r in c["rank"]]
            assert_close([r["score"] for r in got], [r["score"] for r in c["rank"]], "rank")
            top2 = ce.rank(c["pairs"][0][0], docs, top_k=2)
            assert [r["corpus_id"] for r in top2] == [r["corpus_id"] for r in c["rank_top2"]]


def test_shapes_and_zero_copy():
    m = model("st-mean")
    one = m.encode("The cat sat on the mat.")
    assert one.shape == (16,) and one.dtype == np.float32
    many = m.encode(["a cat", "a dog", "the cat sat on the mat"])
    assert many.shape == (3, 16) and many.dtype == np.float32
    # NumPy does not own the data: it is nanobert's buffer, not a copy of it.
    assert not many.flags.owndata and many.flags.c_contiguous
    assert not one.flags.owndata
    assert np.array_equal(one, m.encode(["The cat sat on the mat."])[0])
    assert m.encode([]).shape == (0, 16)
    assert m.encode(("a cat", "a dog")).shape == (2, 16)
    assert m.encode(np.array(["a cat", "a dog"])).shape == (2, 16)


def test_batch_size_does_not_change_results():
    m = model("st-mean")
    texts = [f"text number {i} " + "word " * (i % 7) for i in range(40)]
    assert_close(m.encode(texts, batch_size=1), m.encode(texts, batch_size=32), "batch_size 1 vs 32")
    assert_close(m.encode(texts, show_progress_bar=True, batch_size=2), m.encode(texts), "progress bar")


def test_model_precision_int8_stays_close(minilm):
    m8 = nanobert.SentenceTransformer(minilm.path, precision="int8")
    assert m8.precision == "int8" and minilm.precision == "f32"
    texts = ["Hello world", "The cat sat on the mat.", "A man is eating bread in Paris!"]
    cos = np.sum(minilm.encode(texts) * m8.encode(texts), axis=1)  # MiniLM normalizes
    assert np.all(cos > 0.98), cos


REFUSALS = [
    (dict(convert_to_tensor=True), "convert_to_tensor"),
    (dict(convert_to_numpy=False), "convert_to_numpy"),
    (dict(device="cuda"), "device='cuda'"),
    (dict(device="cuda:0"), "CPU only"),
    (dict(output_value="token_embeddings"), "output_value"),
    (dict(output_value=None), "output_value"),
    (dict(pool={"processes": []}), "pool"),
    (dict(chunk_size=10), "chunk_size"),
    (dict(precision="float16"), "Precision 'float16' is not supported"),
    (dict(prompt_name="nope"), "Prompt name 'nope' not found"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(truncate_dim=0), "truncate_dim must be a positive integer"),
    (dict(task="query"), "keyword arguments nanobert does not use"),
]


@pytest.mark.parametrize("kwargs,message", REFUSALS, ids=[m for _, m in REFUSALS])
def test_encode_refusals(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        model("st-mean").encode(["a text"], **kwargs)


def test_constructor_refusals():
    with pytest.raises(ValueError, match="device='cuda'"):
        nanobert.SentenceTransformer(CKPT / "st-mean", device="cuda")
    with pytest.raises(ValueError, match="trust_remote_code"):
        nanobert.SentenceTransformer(CKPT / "st-mean", trust_remote_code=True)
    with pytest.raises(ValueError, match="backend"):
        nanobert.SentenceTransformer(CKPT / "st-mean", backend="onnx")
    with pytest.raises(ValueError, match="cache_folder"):
        nanobert.SentenceTransformer(CKPT / "st-mean", cache_folder="/tmp")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        nanobert.SentenceTransformer(CKPT / "st-mean", threads=0)
    with pytest.raises(ValueError, match='unknown precision "f8"'):
        nanobert.SentenceTransformer(CKPT / "st-mean", precision="f8")
    with pytest.raises(ValueError, match="similarity_fn_name 'jaccard'"):
        nanobert.SentenceTransformer(CKPT / "st-mean", similarity_fn_name="jaccard")
    with pytest.raises(ValueError, match="Default prompt name 'nope'"):
        nanobert.SentenceTransformer(CKPT / "st-mean", default_prompt_name="nope")
    m = model("st-mean")
    with pytest.raises(ValueError, match="max_seq_length=12"):
        m.max_seq_length = 12
    with pytest.raises(ValueError, match="device='cuda'"):
        nanobert.CrossEncoder(CKPT / "head-rerank", device="cuda")
    ce = nanobert.CrossEncoder(CKPT / "head-rerank")
    with pytest.raises(ValueError, match="convert_to_tensor"):
        ce.predict([("a", "b")], convert_to_tensor=True)
    with pytest.raises(ValueError, match="no masked-language-model head"):
        nanobert.FillMask(CKPT / "st-mean")
    with pytest.raises(ValueError, match="pipeline task 'ner'"):
        nanobert.pipeline("ner", model=CKPT / "st-mean")


def test_input_errors_are_exceptions_not_panics():
    m = model("st-mean")
    with pytest.raises(ValueError, match=r"text #2 is empty"):
        m.encode(["fine", "   "])
    with pytest.raises(TypeError, match=r"sentences\[1\] must be a str"):
        m.encode(["fine", 3])
    fm = nanobert.FillMask(CKPT.parent / "tiny-bert")
    with pytest.raises(ValueError, match=r"no \[MASK\] token in text #1"):
        fm("no mask here")
    ce = nanobert.CrossEncoder(CKPT / "head-rerank")
    with pytest.raises(TypeError, match="pair 0 must be two str"):
        ce.predict([("a", "b", "c")])


def cli_error(args):
    """The CLI's message for the same mistake: its stderr without `error: `."""
    cli = os.environ.get("NANOBERT_CLI")
    if not cli:
        pytest.skip("NANOBERT_CLI (the nanobert binary) is not set; .ci/run sets it")
    r = subprocess.run([cli, *args], capture_output=True, text=True)
    assert r.returncode != 0
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), r.stderr
    return line[len("error: "):]


def broken_checkpoints(tmp_path):
    """(directory, exception type) pairs: missing, bad JSON, truncated weights, unknown module."""
    missing = tmp_path / "missing"
    bad_json = tmp_path / "bad-json"
    shutil.copytree(CKPT / "st-mean", bad_json)
    (bad_json / "config.json").write_text('{"hidden_size": 16')
    truncated = tmp_path / "truncated"
    shutil.copytree(CKPT / "st-mean", truncated)
    with open(truncated / "model.safetensors", "r+b") as f:
        f.truncate(1000)
    module = tmp_path / "module"
    shutil.copytree(CKPT / "st-dense", module)
    text = (module / "modules.json").read_text().replace("normalize.Normalize", "layer_norm.LayerNorm")
    (module / "modules.json").write_text(text)
    return [(missing, FileNotFoundError), (bad_json, OSError), (truncated, OSError), (module, OSError)]


def test_broken_checkpoints_raise_the_library_message(tmp_path):
    for d, kind in broken_checkpoints(tmp_path):
        with pytest.raises(kind) as e:
            nanobert.SentenceTransformer(d)
        assert str(d) in str(e.value), e.value


def test_broken_checkpoints_same_message_as_the_cli(tmp_path):
    for d, _ in broken_checkpoints(tmp_path):
        with pytest.raises(Exception) as e:
            nanobert.SentenceTransformer(d)
        assert str(e.value) == cli_error(["embed", "--model", str(d), "a text"])


def test_hub_id_from_the_hugging_face_cache(tmp_path, monkeypatch):
    """A Hub id is the snapshot folder of the Hugging Face cache (the layout transformers and
    `nanobert --model ID` download into): same model, same vectors as the directory itself;
    `revision` picks the snapshot; one not cached is a FileNotFoundError saying how to get it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = tmp_path / "models--org--st-dense"
    shutil.copytree(CKPT / "st-dense", root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    by_id = nanobert.SentenceTransformer("org/st-dense")
    assert os.path.samefile(by_id.path, root / "snapshots" / commit)
    assert os.path.samefile(nanobert.SentenceTransformer("org/st-dense", revision=commit).path, by_id.path)
    texts = ["a first text", "another one"]
    np.testing.assert_array_equal(by_id.encode(texts), model("st-dense").encode(texts))
    try:
        import huggingface_hub  # noqa: F401  (with it installed, offline mode raises its own error)
    except ImportError:
        with pytest.raises(FileNotFoundError, match="no complete snapshot of `org/st-dense` at revision `v2`"):
            nanobert.SentenceTransformer("org/st-dense", revision="v2")
        with pytest.raises(FileNotFoundError, match="org/other"):
            nanobert.CrossEncoder("org/other")
