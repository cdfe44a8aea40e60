"""Fit the polynomial pieces used by `ops::activation::erf` (run with /work/venv/bin/python).

Rust's standard library has no erf, so nanobert carries its own. We approximate erf on
[0, 4] by three polynomials (erf is odd, and erf(x) rounds to 1.0 in f32 for x >= 4):

- [0, 1]:   erf(x) = x * P(x^2)          (erf(x)/x is a smooth even function)
- [1, 2.5]: erf(x) = Q((x - 1.75) / 0.75)
- [2.5, 4]: erf(x) = R((x - 3.25) / 0.75)

Each polynomial is a least-squares fit at Chebyshev nodes (nearly minimax), against
Python's math.erf (accurate to about 1 ulp in double). The script prints the coefficients
(lowest degree first) as Rust arrays, and the worst error of each piece on a dense grid.
"""

import math

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial


def fit(f, lo, hi, deg, nodes=2000):
    """Power-basis coefficients in t (t in [-1, 1] maps to [lo, hi]) of a Chebyshev fit."""
    k = np.arange(nodes)
    t = np.cos(np.pi * (k + 0.5) / nodes)
    x = lo + (t + 1) * (hi - lo) / 2
    y = np.array([f(v) for v in x])
    return Chebyshev.fit(t, y, deg, domain=[-1, 1]).convert(kind=Polynomial).coef


def horner(c, t):
    acc = 0.0
    for v in reversed(c):
        acc = acc * t + v
    return acc


def erf_over_x_of_s(s):
    """erf(x) / x as a function of s = x^2."""
    if s == 0:
        return 2 / math.sqrt(math.pi)
    x = math.sqrt(s)
    return math.erf(x) / x


pieces = []
# Piece A: t in [-1, 1] <-> s in [0, 1], s = (t + 1) / 2. Convert to a polynomial in s.
ca = fit(erf_over_x_of_s, 0.0, 1.0, 6)
pa = Polynomial(ca)(Polynomial([-1.0, 2.0])).coef  # t = 2 s - 1
pieces.append(("ERF_P0", pa, lambda x: x * horner(pa, x * x), 0.0, 1.0))
cb = fit(math.erf, 1.0, 2.5, 10)
pieces.append(("ERF_P1", cb, lambda x: horner(cb, (x - 1.75) / 0.75), 1.0, 2.5))
cc = fit(math.erf, 2.5, 4.0, 8)
pieces.append(("ERF_P2", cc, lambda x: horner(cc, (x - 3.25) / 0.75), 2.5, 4.0))

for name, coef, approx, lo, hi in pieces:
    grid = np.linspace(lo, hi, 100001)
    err = max(abs(approx(v) - math.erf(v)) for v in grid)
    print(f"// {name}: max |error| on [{lo}, {hi}] = {err:.2e}")
    body = ", ".join(repr(float(v)) for v in coef)
    print(f"const {name}: [f64; {len(coef)}] = [{body}];")
