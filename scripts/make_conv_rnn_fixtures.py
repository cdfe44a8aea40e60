"""Fixtures for tests/conv_rnn.rs: PyTorch's own convolutions, RNNs and LSTMs.

Run from the repository root:

    python3 scripts/make_conv_rnn_fixtures.py

Writes, into tests/fixtures/conv_rnn/ (a few tens of KB in all):

- conv.safetensors: for each conv case NAME, `NAME.input`, `NAME.weight`, `NAME.bias` (absent when the
  layer has no bias) and `NAME.output` = F.conv1d / F.conv2d(input, weight, bias, stride, padding,
  dilation, groups). Also `unfold.NAME.input` / `unfold.NAME.output` = F.unfold (PyTorch's im2col).
- rnn.safetensors: for each recurrent case NAME, the module's state dict under the prefix `NAME.`
  (`NAME.weight_ih_l0`, `NAME.weight_hh_l0`, `NAME.bias_ih_l0`, `NAME.bias_hh_l0`, PyTorch's names and gate
  order), `NAME.input`, optionally `NAME.h0` / `NAME.c0` (when the case starts from a non-zero state) and
  the results `NAME.output`, `NAME.h_n` and (LSTM) `NAME.c_n`.
- cases.json: every case's hyper-parameters and the module's `repr()` string as PyTorch prints it, so the
  Rust `Display` impls can be checked character for character.

Everything is seeded (torch.manual_seed(0)), in float32, on the CPU.
"""

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "conv_rnn")


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    cases = {"conv": [], "unfold": [], "rnn": []}

    # ---------------------------------------------------------------- convolutions
    # (name, dims, batch or None (unbatched), in_ch, out_ch, kernel, stride, padding, dilation, groups, bias, spatial)
    conv_cases = [
        ("conv1d_basic", 1, 2, 3, 4, 3, 1, 0, 1, 1, True, [10]),
        ("conv1d_stride2_pad1_dil2", 1, 2, 3, 5, 3, 2, 1, 2, 1, True, [11]),
        ("conv1d_groups2_nobias", 1, 2, 4, 6, 2, 1, 1, 1, 2, False, [9]),
        ("conv1d_depthwise", 1, 3, 4, 8, 5, 1, 2, 1, 4, True, [12]),
        ("conv1d_unbatched", 1, None, 2, 3, 3, 1, 1, 1, 1, True, [7]),
        ("conv2d_basic", 2, 2, 3, 4, 3, 1, 1, 1, 1, True, [8, 8]),
        ("conv2d_stride2", 2, 2, 3, 4, 3, 2, 1, 1, 1, True, [9, 7]),
        ("conv2d_dilation2", 2, 1, 2, 3, 3, 1, 2, 2, 1, True, [9, 9]),
        ("conv2d_groups2_mixed", 2, 2, 4, 6, (3, 2), (2, 1), (1, 0), (1, 2), 2, True, [8, 9]),
        ("conv2d_depthwise", 2, 2, 4, 4, 3, 1, 1, 1, 4, True, [6, 6]),
        ("conv2d_nobias", 2, 1, 3, 2, (1, 3), 1, (0, 1), 1, 1, False, [5, 6]),
        ("conv2d_unbatched", 2, None, 2, 3, 2, 1, 0, 1, 1, True, [4, 5]),
    ]
    for name, dims, batch, cin, cout, k, s, p, d, g, bias, spatial in conv_cases:
        cls = nn.Conv1d if dims == 1 else nn.Conv2d
        m = cls(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, bias=bias)
        shape = ([batch] if batch is not None else []) + [cin] + spatial
        x = torch.randn(*shape)
        with torch.no_grad():
            y = m(x)
            fn = F.conv1d if dims == 1 else F.conv2d
            y2 = fn(x, m.weight, m.bias, stride=s, padding=p, dilation=d, groups=g)
        assert torch.equal(y, y2)
        tensors[f"{name}.input"] = x
        tensors[f"{name}.weight"] = m.weight.detach()
        if bias:
            tensors[f"{name}.bias"] = m.bias.detach()
        tensors[f"{name}.output"] = y
        cases["conv"].append(
            {
                "name": name,
                "dims": dims,
                "in_channels": cin,
                "out_channels": cout,
                "kernel_size": list(m.kernel_size),
                "stride": list(m.stride),
                "padding": list(m.padding),
                "dilation": list(m.dilation),
                "groups": g,
                "bias": bias,
                "repr": repr(m),
            }
        )

    # F.unfold is PyTorch's im2col: [N, C, H, W] -> [N, C*KH*KW, OH*OW].
    unfold_cases = [
        ("tiny", torch.arange(16.0).reshape(1, 1, 4, 4), (3, 3), 1, 0, 1),
        ("padded_strided", torch.randn(1, 2, 5, 6), (2, 3), (2, 1), (1, 1), (1, 2)),
    ]
    for name, x, k, s, p, d in unfold_cases:
        tensors[f"unfold.{name}.input"] = x
        tensors[f"unfold.{name}.output"] = F.unfold(x, k, dilation=d, padding=p, stride=s)
        cases["unfold"].append(
            {"name": name, "kernel_size": list(k), "stride": pair(s), "padding": pair(p), "dilation": pair(d)}
        )

    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "conv.safetensors"))

    # ---------------------------------------------------------------- recurrent nets
    tensors = {}
    # (name, kind, nonlinearity, input_size, hidden, seq, batch, batch_first, nonzero initial state, bias)
    rnn_cases = [
        ("rnn_tanh", "RNN", "tanh", 4, 6, 5, 3, False, False, True),
        ("rnn_tanh_bf_h0", "RNN", "tanh", 4, 6, 5, 3, True, True, True),
        ("rnn_relu_h0", "RNN", "relu", 3, 5, 4, 2, False, True, True),
        ("lstm", "LSTM", None, 4, 6, 5, 3, False, False, True),
        ("lstm_bf_h0c0", "LSTM", None, 4, 6, 5, 3, True, True, True),
        ("lstm_nobias_h0c0", "LSTM", None, 3, 5, 6, 2, False, True, False),
    ]
    for name, kind, nl, isz, hsz, seq, batch, bf, state, bias in rnn_cases:
        if kind == "RNN":
            m = nn.RNN(isz, hsz, nonlinearity=nl, batch_first=bf, bias=bias)
        else:
            m = nn.LSTM(isz, hsz, batch_first=bf, bias=bias)
        x = torch.randn(batch, seq, isz) if bf else torch.randn(seq, batch, isz)
        for k, v in m.state_dict().items():
            tensors[f"{name}.{k}"] = v
        tensors[f"{name}.input"] = x
        with torch.no_grad():
            if kind == "RNN":
                h0 = torch.randn(1, batch, hsz) if state else None
                out, h_n = m(x, h0)
                if state:
                    tensors[f"{name}.h0"] = h0
            else:
                if state:
                    h0, c0 = torch.randn(1, batch, hsz), torch.randn(1, batch, hsz)
                    out, (h_n, c_n) = m(x, (h0, c0))
                    tensors[f"{name}.h0"] = h0
                    tensors[f"{name}.c0"] = c0
                else:
                    out, (h_n, c_n) = m(x)
                tensors[f"{name}.c_n"] = c_n
        tensors[f"{name}.output"] = out
        tensors[f"{name}.h_n"] = h_n
        cases["rnn"].append(
            {
                "name": name,
                "kind": kind,
                "nonlinearity": nl,
                "input_size": isz,
                "hidden_size": hsz,
                "batch_first": bf,
                "initial_state": state,
                "bias": bias,
                "repr": repr(m),
            }
        )
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "rnn.safetensors"))

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases['conv'])} conv, {len(cases['unfold'])} unfold, {len(cases['rnn'])} rnn cases to {OUT}")


if __name__ == "__main__":
    main()
