"""Compiled (numba) kernel of the intensity statistics shared by the statistics and intensity
histogram families (private): every moment and percentile feature in a few passes, given the
order statistics that the percentiles need (:func:`order_positions`)."""
from __future__ import annotations

import numpy as np
from numba import njit

#: order of the values returned by :func:`summary`
NAMES = ("mean", "var", "skew", "kurt", "median", "min", "p10", "p90", "max", "iqr", "range", "mad", "rmad",
         "medad", "cov", "qcod", "energy", "rms")


PERCENTILES = (10.0, 25.0, 50.0, 75.0, 90.0)


def order_positions(n: int) -> list[int]:
    """Sorted positions of the order statistics that :func:`summary` reads (for ``np.partition``)."""
    out = set()
    for q in PERCENTILES:
        lo = int(np.floor((n - 1) * q / 100.0))
        out.update(k for k in (lo, lo + 1) if k < n)
    return sorted(out)


@njit(cache=True, nogil=True)
def _percentile(xs, q):
    """numpy's default ("linear") percentile of ``xs`` (sorted, or partitioned at
    :func:`order_positions`): position h = (N − 1) q / 100,
    x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋ + 1] − x[⌊h⌋])."""
    h = (xs.size - 1) * q / 100.0
    lo = int(np.floor(h))
    if lo >= xs.size - 1:
        return xs[xs.size - 1]
    t = h - lo
    a, b = xs[lo], xs[lo + 1]
    # numpy's lerp: exact at both ends
    return a + t * (b - a) if t < 0.5 else b - (b - a) * (1.0 - t)


@njit(cache=True, nogil=True)
def summary(x, xs):
    """The statistics of :data:`NAMES` of the values ``x`` (1-D float64, N ≥ 1; ``xs``: the same
    values sorted, or partitioned at :func:`order_positions`), IBSI 1 3.3:
    mean, variance (1/N), skewness m3/m2^1.5, excess kurtosis m4/m2² − 3 (both 0 for constant
    values), percentiles (numpy "linear"), interquartile range, range, mean absolute deviation,
    robust MAD (values in [P10, P90] about their mean; NaN when there are none), median absolute deviation, coefficient of
    variation σ/μ (NaN for μ = 0), quartile coefficient of dispersion (P75 − P25)/(P75 + P25)
    (NaN when P75 + P25 = 0), energy Σ x², root mean square."""
    n = x.size
    mu = 0.0
    energy = 0.0
    lo = hi = x[0]
    for v in x:
        mu += v
        energy += v * v
        lo = min(lo, v)
        hi = max(hi, v)
    mu /= n
    m2 = m3 = m4 = mad = 0.0
    for v in x:
        d = v - mu
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
        mad += abs(d)
    m2 /= n
    m3 /= n
    m4 /= n
    mad /= n
    if m2 == 0.0:
        skew = kurt = 0.0
    else:
        skew = m3 / m2 ** 1.5
        kurt = m4 / (m2 * m2) - 3.0
    p10 = _percentile(xs, 10.0)
    p25 = _percentile(xs, 25.0)
    p50 = _percentile(xs, 50.0)
    p75 = _percentile(xs, 75.0)
    p90 = _percentile(xs, 90.0)
    rs = 0.0
    rn = 0
    medad = 0.0
    for v in x:
        medad += abs(v - p50)
        if p10 <= v <= p90:
            rs += v
            rn += 1
    medad /= n
    rmad = np.nan  # no value in [P10, P90] (e.g. two distinct values)
    if rn > 0:
        rmu = rs / rn
        rmad = 0.0
        for v in x:
            if p10 <= v <= p90:
                rmad += abs(v - rmu)
        rmad /= rn
    out = np.empty(18)
    out[0], out[1], out[2], out[3] = mu, m2, skew, kurt
    out[4], out[5], out[6], out[7], out[8] = p50, lo, p10, p90, hi
    out[9], out[10], out[11], out[12], out[13] = p75 - p25, hi - lo, mad, rmad, medad
    out[14] = np.sqrt(m2) / mu if mu != 0 else np.nan
    out[15] = (p75 - p25) / (p75 + p25) if (p75 + p25) != 0 else np.nan
    out[16] = energy
    out[17] = np.sqrt(energy / n)
    return out


@njit(cache=True, nogil=True)
def histogram_summary(levels, ng):
    """Intensity-histogram quantities of integer grey levels ``levels`` (1..ng): the statistics of
    :data:`NAMES` (the levels sorted by counting), then mode (most frequent level, ties towards
    the mean), entropy −Σ p log2 p, uniformity Σ p², and the largest and smallest histogram
    gradient H' (central differences inside, one-sided at 1 and Ng, as ``np.gradient``) with
    their levels.  IBSI 1 3.4."""
    n = levels.size
    hist = np.zeros(ng)
    for v in levels:
        hist[v - 1] += 1.0
    xs = np.empty(n)
    t = 0
    for i in range(ng):
        for _ in range(int(hist[i])):
            xs[t] = i + 1.0
            t += 1
    st = summary(xs, xs)
    mu = st[0]
    hmax = hist.max()
    mode = 0.0
    best = np.inf
    entropy = 0.0
    uniformity = 0.0
    for i in range(ng):
        if hist[i] == hmax and abs(i + 1.0 - mu) < best:
            best, mode = abs(i + 1.0 - mu), i + 1.0
        p = hist[i] / n
        if p > 0:
            entropy -= p * np.log2(p)
        uniformity += p * p
    grad = np.zeros(ng)
    if ng > 1:
        grad[0] = hist[1] - hist[0]
        grad[ng - 1] = hist[ng - 1] - hist[ng - 2]
        for i in range(1, ng - 1):
            grad[i] = (hist[i + 1] - hist[i - 1]) / 2.0
    out = np.empty(st.size + 7)
    out[:st.size] = st
    out[st.size:] = (mode, entropy, uniformity, grad.max(), np.argmax(grad) + 1.0, grad.min(), np.argmin(grad) + 1.0)
    return out
