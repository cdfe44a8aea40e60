"""Reference outputs of PyTorch ops for tests/ops_torch.rs (run with python3 and the pinned packages of scripts/requirements.txt).

Inputs are deterministic (built from arange/sin/linspace, no random generator) and are stored
with their outputs as raw float32 bit patterns, so the Rust test reads exactly the same
numbers, NaN and infinities included.

Writes tests/fixtures/ops/cases.json: a list of
{"name", "op", "args": {...}, "inputs": {name: {"shape", "bits"}}, "expected": {"shape", "bits"}}.
"""

import json
import os

import torch
import torch.nn.functional as F


def enc(t):
    t = t.detach().to(torch.float32).contiguous()
    bits = [b & 0xFFFFFFFF for b in t.view(torch.int32).flatten().tolist()]  # as unsigned u32
    return {"shape": list(t.shape), "bits": bits}


cases = []


def case(name, op, inputs, expected, **args):
    ins = {k: enc(v) for k, v in inputs.items()}
    cases.append({"name": name, "op": op, "args": args, "inputs": ins, "expected": enc(expected)})


line = torch.linspace(-8, 8, 321, dtype=torch.float32)
wide = torch.cat([line, torch.tensor([-30.0, -10.0, 10.0, 30.0, 0.0, -0.0, 1e-6, -1e-6])])
case("gelu", "gelu", {"x": wide}, F.gelu(wide))
case("gelu_tanh", "gelu_tanh", {"x": wide}, F.gelu(wide, approximate="tanh"))
case("erf", "erf", {"x": wide}, torch.erf(wide))
case("tanh", "tanh", {"x": wide}, torch.tanh(wide))
case("sigmoid", "sigmoid", {"x": wide}, torch.sigmoid(wide))
case("relu", "relu", {"x": wide}, torch.relu(wide))

scores = (torch.sin(torch.arange(2 * 3 * 4 * 5, dtype=torch.float32) * 0.7) * 6).reshape(2, 3, 4, 5)
case("softmax", "softmax", {"x": scores}, torch.softmax(scores, dim=-1))
# BERT-style padding mask: (1 - attention_mask) * finfo.min, broadcast [B, 1, 1, S].
attn = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float32)
mask = ((1.0 - attn) * torch.finfo(torch.float32).min)[:, None, None, :]
case("softmax_mask", "softmax", {"x": scores, "mask": mask}, torch.softmax(scores + mask, dim=-1))
big = torch.tensor([[1e30, -1e30, 0.0], [88.0, 89.0, 90.0], [-1e4, 0.0, 1e4]])
case("softmax_huge", "softmax", {"x": big}, torch.softmax(big, dim=-1))

h = 16
x = (torch.cos(torch.arange(5 * h, dtype=torch.float32) * 1.3) * 3 + torch.arange(5 * h) * 0.01).reshape(5, h)
w = 1.0 + 0.1 * torch.arange(h, dtype=torch.float32)
b = 0.05 * torch.arange(h, dtype=torch.float32) - 0.3
case("layer_norm", "layer_norm", {"x": x, "weight": w, "bias": b}, F.layer_norm(x, (h,), w, b, 1e-12), eps=1e-12)
case("layer_norm_plain", "layer_norm", {"x": x}, F.layer_norm(x, (h,), None, None, 1e-5), eps=1e-5)
offset = x + 1000.0
# Rows far from 0 are ill-conditioned in f32 (PyTorch's own f32 result is off by 1.5e-5 here),
# so this expected output is computed in float64 and rounded.
exact = F.layer_norm(offset.double(), (h,), None, None, 1e-5).float()
case("layer_norm_offset", "layer_norm", {"x": offset}, exact, eps=1e-5)

r = torch.sin(torch.arange(3 * 4 * 5, dtype=torch.float32)).reshape(3, 4, 5)
for d in (0, 1, 2, -1):
    case(f"sum_{d}", "sum", {"x": r}, r.sum(dim=d), dim=d, keepdim=False)
    case(f"mean_{d}", "mean", {"x": r}, r.mean(dim=d, keepdim=True), dim=d, keepdim=True)
    case(f"max_{d}", "max", {"x": r}, r.amax(dim=d), dim=d, keepdim=False)

a = torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5
bias = torch.tensor([0.5, -1.0, 2.0, 0.25])
case("add_bias", "add", {"a": a, "b": bias}, a + bias)
case("div_bias", "div", {"a": a, "b": bias}, a / bias)
col = torch.tensor([[2.0], [-3.0], [0.5]])
case("mul_col", "mul", {"a": a, "b": col}, a * col)
case("sub_outer", "sub", {"a": col, "b": bias}, col - bias)

table = torch.arange(5 * 3, dtype=torch.float32).reshape(5, 3) * 0.5
ids = [4, 0, 2, 2, 1, 3]
case("embedding", "embedding", {"weight": table}, F.embedding(torch.tensor(ids).reshape(2, 3), table), ids=ids,
     ids_shape=[2, 3])

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "ops", "cases.json")
with open(out, "w") as f:
    json.dump(cases, f)
print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")
