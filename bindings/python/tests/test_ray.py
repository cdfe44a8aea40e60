"""examples/python/ray_embed.py on a real two-node Ray cluster (two raylets on loopback)."""

import json
import os
import sys

import numpy as np
import pytest

from conftest import ROOT, minilm_dir

sys.path.insert(0, str(ROOT / "examples" / "python"))
import ray_embed  # noqa: E402

ray = pytest.importorskip("ray", reason="ray[data] is in requirements-test.txt; .ci/run installs it")


class Checked(ray_embed.Embed):
    """The example's actor, also reporting the threads it runs."""

    def __call__(self, batch):
        out = super().__call__(batch)
        pool = sum(1 for t in os.listdir("/proc/self/task")
                   if open(f"/proc/self/task/{t}/comm").read().startswith("nanobert-"))
        n = len(out["embedding"])
        out["model_threads"] = np.full(n, self.model.threads)
        out["pool_threads"] = np.full(n, pool)
        out["omp"] = np.array([os.environ.get("OMP_NUM_THREADS", "")] * n)
        return out


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # Two CPUs per raylet (this machine has two cores in all): one for an actor, one for Ray
    # Data's read and write tasks, which would wait forever if actors held every CPU. The custom
    # resource `embed_slot`, one per node, makes the two actors land on different nodes.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "resources": {"embed_slot": 1}})
    c.add_node(num_cpus=2, resources={"embed_slot": 1})
    c.wait_for_nodes()
    # The actors import this module (Checked) and the example: both on the workers' path.
    path = os.pathsep.join([str(ROOT / "bindings" / "python" / "tests"), str(ROOT / "examples" / "python")])
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield c
    ray.shutdown()
    c.shutdown()


def test_two_nodes_embed_a_corpus_like_one_process(cluster, tmp_path):
    import nanobert

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    corpus = tmp_path / "corpus.jsonl"
    texts = [f"document {i}: " + "the quick brown fox jumps over the lazy dog " * (1 + i % 9) for i in range(240)]
    with open(corpus, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "text": t}) + "\n")
    model = str(minilm_dir())
    ds = ray.data.read_json(str(corpus), override_num_blocks=8)
    out_dir = tmp_path / "out"
    ray_embed.embed_dataset(ds, model, actors=2, threads_per_actor=1, rows_per_batch=30, udf=Checked,
                            resources={"embed_slot": 1}).write_parquet(
        str(out_dir))
    rows = ray.data.read_parquet(str(out_dir)).take_all()
    assert sorted(r["id"] for r in rows) == list(range(len(texts)))
    want = nanobert.SentenceTransformer(model).encode(texts)
    got = np.stack([np.asarray(r["embedding"], dtype=np.float32) for r in sorted(rows, key=lambda r: r["id"])])
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-6, np.abs(got - want).max()
    nodes = {r["node_id"] for r in rows}
    assert len(nodes) == 2, f"rows embedded on {len(nodes)} node(s): {nodes}"
    # One CPU per actor: Ray set OMP_NUM_THREADS=1, the model's pool has one thread.
    assert {r["omp"] for r in rows} == {"1"}
    assert {int(r["model_threads"]) for r in rows} == {1}
    assert {int(r["pool_threads"]) for r in rows} == {1}
