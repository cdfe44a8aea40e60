"""PyTorch's printed form of a set of tensors, for tests/print.rs (run with python3 and the pinned packages of scripts/requirements.txt).

Each case is a float32 base tensor built from explicit values or arange/sin/reshape (no
random generator), optionally followed by view operations (transpose, permute, narrow,
select, expand, unsqueeze) that Rust can replay. We store the base values as raw f32 bit
patterns so NaN/inf and every digit arrive intact, plus `repr(tensor)` with PyTorch's
default print options (precision 4, threshold 1000, edgeitems 3, linewidth 80).

Writes tests/fixtures/print/cases.json.
"""

import json
import math
import os

import torch

torch.set_printoptions(profile="default")
f32 = torch.float32
cases = []


def case(name, base, views=()):
    base = base.to(f32).contiguous()
    t = base
    for op, *args in views:
        if op == "transpose":
            t = t.transpose(*args)
        elif op == "permute":
            t = t.permute(*args)
        elif op == "narrow":
            t = t.narrow(*args)
        elif op == "select":
            t = t.select(*args)
        elif op == "broadcast_to":
            t = t.expand(*args)
        elif op == "unsqueeze":
            t = t.unsqueeze(*args)
        else:
            raise ValueError(op)
    bits = [b & 0xFFFFFFFF for b in base.view(torch.int32).flatten().tolist()]
    cases.append(
        {"name": name, "shape": list(base.shape), "bits": bits, "views": [list(v) for v in views], "repr": repr(t)}
    )


def ar(*shape):
    n = math.prod(shape)
    return torch.arange(n, dtype=f32).reshape(*shape)


nan, inf = float("nan"), float("inf")
T = lambda v: torch.tensor(v, dtype=f32)  # noqa: E731

# 0-d
case("scalar", T(1.5))
case("scalar_zero", T(0.0))
case("scalar_int", T(3.0))
case("scalar_negative_tiny", T(-1.2345e-07))
case("scalar_nan", T(nan))
case("scalar_big", T(123456789.0))
# 1-d
case("floats", T([0.1, 0.2, 0.3]))
case("int_looking", ar(5))
case("mixed_sign", T([-1.5, 2.25, 0.0, -0.125]))
case("negative_zero", T([-0.0, 1.0]))
case("one_element", T([7.0]))
case("rounding", torch.sin(ar(50)) * 100)
case("int_widths", T([-100.0, 5.0, 999.0]))
case("ratio_exactly_1000", T([1.0, 1000.0]))
case("ratio_above_1000", T([1.0, 1000.5]))
case("min_1e-4_in_f32", T([1.0, 1e-4]))
case("sci_large", T([1e5, 1.0, 2.5]))
case("sci_tiny", T([1e-5, 0.5]))
case("sci_big_ints", T([1e9, 2e9, -3e9]))
case("sci_huge_exponent", T([1e38, 1e-38]))
case("nan_inf", T([nan, inf, -inf, 1.5, 0.0]))
case("nan_inf_int", T([nan, inf, 2.0]))
case("only_nan_zero", T([0.0, nan]))
case("sci_with_nan", T([nan, 1e-7, -inf, 3e5]))
case("long_row", ar(30) * 1.1)
case("long_row_sci", (ar(20) + 1) * 1e-6)
case("exactly_1000", ar(1000) / 10)
case("summarized_1001", ar(1001))
case("summarized_2000", ar(2000) * 0.5)
# 2-d and up
case("matrix", T([[0.1, 0.2], [0.3, 0.4]]))
case("matrix_int", ar(3, 4))
case("one_by_one", T([[7.5]]))
case("zeros", torch.zeros(2, 3))
case("long_rows_2d", torch.sin(ar(3, 25)) * 10)
case("cube", ar(2, 3, 4) * 0.5 - 3)
case("four_d", ar(2, 2, 2, 3) / 7)
case("five_d", ar(2, 1, 2, 1, 2))
case("summarized_2d", ar(40, 50) / 3)
case("summarized_3d", ar(10, 10, 20))
case("summarized_sci", (ar(1200) - 600) * 1e3)
case("summarized_wide_rows", torch.cos(ar(4, 400)))
# empty
case("empty_1d", torch.zeros(0))
case("empty_2d", torch.zeros(2, 0))
case("empty_3d", torch.zeros(0, 3, 2))
# views
case("transposed", ar(3, 4) * 0.25, [("transpose", 0, 1)])
case("permuted", torch.sin(ar(2, 3, 4)), [("permute", 2, 0, 1)])
case("narrowed", ar(4, 6) - 10, [("narrow", 1, 2, 3)])
case("selected", ar(3, 4, 5) / 8, [("select", 1, 2)])
case("broadcast", T([1.5, -2.0, 3.25]), [("broadcast_to", 4, 3)])
case("unsqueezed", T([1.0, 2.0]), [("unsqueeze", 1)])
case("transposed_summarized", ar(50, 30) / 4, [("transpose", 0, 1)])

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "print", "cases.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=0)
print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")
