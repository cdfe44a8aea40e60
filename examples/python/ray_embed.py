"""Embed a JSONL corpus on a Ray cluster: one nanobert model per actor, Parquet out.

    python examples/python/ray_embed.py --input corpus.jsonl --output embeddings/ \
        --model ~/.cache/nanobert/models/all-MiniLM-L6-v2 --actors 2 --threads-per-actor 1

Each line of the input is a JSON object with a text field (``--text-field``, default ``text``);
every other field is carried through. The output is a Parquet dataset with those fields plus
``embedding`` (float32 ``[dim]`` per row) and ``node_id`` (the Ray node that embedded the row).

Ray Data reads the corpus in blocks and streams them through ``map_batches`` over an actor pool
(``ActorPoolStrategy``): each actor loads the model once and embeds batch after batch. An actor
asks Ray for ``--threads-per-actor`` CPUs; Ray sets ``OMP_NUM_THREADS`` to that number in the
actor, and nanobert sizes the model's thread pool from it, so actors never oversubscribe the
cores Ray gave them.
Runs on a laptop (``ray.init()`` starts a local cluster) or an existing cluster
(``--address auto`` or ``RAY_ADDRESS``); Ray places the actors where CPUs are free. The checkpoint directory must exist at the same path on
every node (a shared filesystem, or copied there first).
"""

from __future__ import annotations

import argparse
import time
from typing import Dict, Optional

import numpy as np


class Embed:
    """One actor's model: built once per actor, called once per batch."""

    def __init__(self, model_path: str, text_field: str, batch_size: int, threads: Optional[int] = None):
        import ray
        from nanobert import SentenceTransformer

        # threads=None: the pool is sized from OMP_NUM_THREADS, which Ray set to this actor's CPUs.
        self.model = SentenceTransformer(model_path, threads=threads)
        self.text_field = text_field
        self.batch_size = batch_size
        self.node_id = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        texts = [str(t) for t in batch[self.text_field]]
        emb = self.model.encode(texts, batch_size=self.batch_size)
        batch["embedding"] = emb
        batch["node_id"] = np.array([self.node_id] * len(texts))
        return batch


def embed_dataset(ds, model_path: str, actors: int = 2, threads_per_actor: int = 1, rows_per_batch: int = 256,
                  text_field: str = "text", udf=Embed, resources: Optional[Dict[str, float]] = None):
    """``ds`` with an ``embedding`` and a ``node_id`` column, computed by ``actors`` actors of
    ``threads_per_actor`` CPUs each (``udf``: the actor class, :class:`Embed` or a subclass;
    ``resources``: custom Ray resources each actor needs, e.g. one per node to pin an actor to
    each node)."""
    import ray

    return ds.map_batches(
        udf,
        fn_constructor_kwargs=dict(model_path=model_path, text_field=text_field, batch_size=32),
        batch_size=rows_per_batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads_per_actor,
        resources=resources,
    )


def embed_corpus(input_path: str, output_dir: str, model_path: str, actors: int = 2, threads_per_actor: int = 1,
                 rows_per_batch: int = 256, text_field: str = "text") -> None:
    """Reads ``input_path`` (JSONL), embeds it on ``actors`` actors, writes Parquet to ``output_dir``.
    Needs ``ray.init()`` first."""
    import ray

    ds = ray.data.read_json(input_path)
    embed_dataset(ds, model_path, actors, threads_per_actor, rows_per_batch, text_field).write_parquet(output_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="JSONL corpus, one object with a text field per line")
    ap.add_argument("--output", required=True, help="directory for the Parquet files")
    ap.add_argument("--model", required=True, help="checkpoint directory (the same path on every node)")
    ap.add_argument("--actors", type=int, default=2, help="actors, one model each (default 2)")
    ap.add_argument("--threads-per-actor", type=int, default=1, help="CPUs (and threads) per actor (default 1)")
    ap.add_argument("--rows-per-batch", type=int, default=256, help="rows per map_batches call (default 256)")
    ap.add_argument("--text-field", default="text", help="the JSON field holding the text (default text)")
    ap.add_argument("--address", default=None, help="a running cluster (auto, or host:port); default: start one")
    args = ap.parse_args()

    import ray

    ray.init(address=args.address)
    start = time.perf_counter()
    embed_corpus(args.input, args.output, args.model, args.actors, args.threads_per_actor,
                 args.rows_per_batch, args.text_field)
    seconds = time.perf_counter() - start
    n = ray.data.read_parquet(args.output).count()
    print(f"{n} rows embedded into {args.output} in {seconds:.1f} s ({n / seconds:.0f} rows/s) "
          f"on {args.actors} actors x {args.threads_per_actor} threads")


if __name__ == "__main__":
    main()
