"""Fit the coefficients of nanobert's two erfs (run with python3 and the pinned packages of scripts/requirements.txt).

Part 1 fits the three polynomial pieces of `ops::activation::erf_ref` (the slow reference);
part 2, at the end, fits the single rational function of the fast `ops::activation::erf`.

Part 1. Rust's standard library has no erf, so nanobert carries its own. We approximate erf on
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


# ------------------------------------------------------------------------------------------
# The fast erf: one branch-free rational function on the whole line.
#
#   erf(x) ~= x * N(x^2) / D(x^2),  x clamped to [-C, C],  D(0) = 1.
#
# erf is odd, so erf(x)/x is even: a function of s = x^2. Beyond C = 4, erf(x) rounds to 1.0
# in f32, so clamping x there costs nothing (erf(4) = 1 - 1.5e-8, nearer 1.0 than 1 - 2^-24).
# A rational fit needs far fewer terms than a polynomial for the same error, which is what
# lets one formula cover [0, 4] with no branch (and lets the compiler vectorize it).
#
# Fitting a ratio is not linear in the unknowns, so we linearize: minimize
# |x N(s) - erf(x) D(s)| / |D_prev(s)| (the Sanathanan-Koerner iteration: dividing by the
# previous denominator makes the linear residual approximate the true one), and reweight the
# grid points by their error (Lawson's iteration) to push the least-squares fit toward the
# minimax one. The reference is scipy.special.erf (double precision). We fit in t = s / C^2
# (in [0, 1], better conditioned), then rescale the coefficients to s.
# ------------------------------------------------------------------------------------------
from scipy.special import erf as erf64  # noqa: E402

C = 4.0
DEG_N, DEG_D = 5, 5


def fit_rational(c, dn, dd, iters=60, n=6000):
    k = np.arange(n)
    x = c * (1 - np.cos(np.pi * (k + 0.5) / n)) / 2  # dense near 0 and near c
    t = (x / c) ** 2
    f = erf64(x)
    w = np.ones(n)
    d_prev = np.ones(n)
    best = None
    for it in range(iters):
        a = np.hstack([x[:, None] * t[:, None] ** np.arange(dn + 1), -f[:, None] * t[:, None] ** np.arange(1, dd + 1)])
        sw = np.sqrt(w) / np.abs(d_prev)
        sol, *_ = np.linalg.lstsq(a * sw[:, None], f * sw, rcond=None)
        num, den = sol[: dn + 1], np.concatenate([[1.0], sol[dn + 1 :]])
        d_prev = Polynomial(den)(t)
        err = x * Polynomial(num)(t) / d_prev - f
        if best is None or np.abs(err).max() < best[0]:
            best = (np.abs(err).max(), num.copy(), den.copy())
        if it >= 5:
            w = w * np.abs(err)
            w /= w.sum()
    scale = c ** (-2.0 * np.arange(max(dn, dd) + 1))
    return best[0], best[1] * scale[: dn + 1], best[2] * scale[: dd + 1]


fit_err, num, den = fit_rational(C, DEG_N, DEG_D)

# Check it the way Rust runs it: f32 in, clamp and Horner in f64, f32 out, against the f64
# reference at every 1e-4 step of [-6, 6] and on a denser grid.
xs = np.concatenate([np.arange(-60000, 60001) * np.float32(1e-4), np.linspace(-6, 6, 2_000_001, dtype=np.float32)])
xd = np.clip(xs.astype(np.float64), -C, C)
ys = (xd * Polynomial(num)(xd * xd) / Polynomial(den)(xd * xd)).astype(np.float32)
err32 = np.abs(ys.astype(np.float64) - erf64(xs.astype(np.float64))).max()
print()
print(f"// ERF_NUM / ERF_DEN: x N(x^2) / D(x^2) on |x| <= {C}; fit error {fit_err:.2e},")
print(f"// {err32:.2e} in use (f32 in, f64 arithmetic, f32 out) on [-6, 6].")
for name, coef in [("ERF_NUM", num), ("ERF_DEN", den)]:
    body = ", ".join(repr(float(v)) for v in coef)
    print(f"const {name}: [f64; {len(coef)}] = [{body}];")
