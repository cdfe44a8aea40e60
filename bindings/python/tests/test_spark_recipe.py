"""The function examples/python/spark_embed.py hands to Spark's mapInPandas, called as Spark
would call it (an iterator of pandas DataFrames per partition). Spark itself is not installed."""

import sys

import numpy as np
import pytest

from conftest import CKPT, ROOT

pd = pytest.importorskip("pandas", reason="pandas is in requirements-test.txt; .ci/run installs it")
sys.path.insert(0, str(ROOT / "examples" / "python"))
import spark_embed  # noqa: E402


def test_map_in_pandas_function():
    import nanobert

    texts = [f"row {i} " + "word " * i for i in range(10)]
    frames = [pd.DataFrame({"id": range(0, 4), "text": texts[:4]}), pd.DataFrame({"id": range(4, 10), "text": texts[4:]})]
    out = list(spark_embed.embed_partitions(iter(frames), str(CKPT / "st-mean")))
    assert [len(f) for f in out] == [4, 6]
    assert list(out[0].columns) == ["id", "text", "embedding"]
    got = np.stack([e for f in out for e in f["embedding"]])
    want = nanobert.SentenceTransformer(CKPT / "st-mean").encode(texts)
    assert np.abs(got - want).max() <= 1e-6
