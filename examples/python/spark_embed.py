"""Embed a text column on Spark with ``mapInPandas``: one nanobert model per Python worker.

    spark-submit examples/python/spark_embed.py corpus.jsonl embeddings/ /models/all-MiniLM-L6-v2

Spark calls ``embed_partitions`` once per partition with an iterator of pandas DataFrames (Arrow
batches); the model is loaded once per worker process (cached in a module global, and rebuilt from
its path when Spark pickles the closure to the executors) and sized by ``OMP_NUM_THREADS``: Spark
sets it in its Python workers to the executor's cores when unset; with several concurrent tasks
per executor set it to ``spark.task.cpus`` (``spark.executorEnv.OMP_NUM_THREADS``) so the
workers do not oversubscribe. The checkpoint directory must exist on every executor.

The function itself is tested with pandas alone (bindings/python/tests/test_spark_recipe.py);
Spark is not installed by the tests.
"""

from __future__ import annotations

import sys
from typing import Iterator, Optional

_MODEL = None


def model(path: str):
    """This worker's model, loaded on first use."""
    global _MODEL
    if _MODEL is None or _MODEL.path != path:
        from nanobert import SentenceTransformer

        _MODEL = SentenceTransformer(path)
    return _MODEL


def embed_partitions(batches: Iterator["pandas.DataFrame"], model_path: str, text_column: str = "text",
                     batch_size: int = 32) -> Iterator["pandas.DataFrame"]:
    """For ``DataFrame.mapInPandas``: each DataFrame gains an ``embedding`` column (a list of
    floats per row)."""
    m = model(model_path)
    for df in batches:
        emb = m.encode(df[text_column].astype(str).tolist(), batch_size=batch_size)
        out = df.copy()
        out["embedding"] = list(emb)
        yield out


def main(input_path: str, output_path: str, model_path: str, text_column: str = "text",
         spark: Optional[object] = None) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    spark = spark or SparkSession.builder.appName("nanobert-embed").getOrCreate()
    df = spark.read.json(input_path)
    schema = StructType(df.schema.fields + [StructField("embedding", ArrayType(FloatType()))])
    out = df.mapInPandas(lambda it: embed_partitions(it, model_path, text_column), schema=schema)
    out.write.parquet(output_path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
