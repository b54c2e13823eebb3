"""Compiled (numba) kernels of the texture families (private).

Matrix accumulation works on the zero-padded grid of :class:`._common.RoiGrid`: ``codes`` is the
flattened grid of level codes (0..n-1 inside the ROI, n outside), ``idx`` the flat indices of the
ROI voxels, ``group`` the batch index of each ROI voxel (its compact slice for per-slice
matrices, else 0) and ``offsets`` flat index shifts.  Every ROI voxel is at least ``pad`` cells
from the grid border, so a shift by at most ``pad`` steps never leaves the grid.

Feature kernels evaluate one stack of matrices at a time and return one row per feature
(see the ``*_NAMES`` tuples), one column per matrix; formulas and references are in the docstrings.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_LN2 = math.log(2.0)


# -- matrix accumulation ---------------------------------------------------------------------

@njit(cache=True, nogil=True)
def pair_counts(codes, idx, group, n_groups, offsets, n):
    """GLCM counts M[g, d, a, b]: ROI voxel x (group g, code a), x + offsets[d] in the ROI (code b)."""
    nd = offsets.size
    m = np.zeros((n_groups, nd, n, n + 1), np.int32)  # column n: neighbour outside the ROI
    for t in range(idx.size):
        x = idx[t]
        a = codes[x]
        g = group[t]
        for d in range(nd):
            m[g, d, a, codes[x + offsets[d]]] += 1
    return m[:, :, :, :n].astype(np.float64)


@njit(cache=True, nogil=True)
def run_counts(codes, idx, group, n_groups, offsets, n, n_len):
    """GLRLM counts R[g, d, a, L − 1]: runs of code a and length L along offsets[d] (> 0) in group g.

    One pass over the ROI voxels in raster order, all directions per voxel: the run length
    ending at x is len(x − o) + 1 when x − o has the same code, else 1 (x − o precedes x, so it
    is done; lengths are kept per ROI voxel); a run is counted where the next voxel x + o has
    another code.  Branch-free: the count adds 0 or 1.
    """
    nd = offsets.size
    n_roi = idx.size
    r = np.zeros((n_groups, nd, n, n_len), np.int32)
    pos = np.full(codes.size, n_roi, np.int32)  # ROI voxel number of a grid cell (n_roi: outside)
    for t in range(n_roi):
        pos[idx[t]] = t
    run = np.zeros((n_roi + 1, nd), np.int32)
    for t in range(n_roi):
        x = idx[t]
        a = codes[x]
        g = group[t]
        for d in range(nd):
            o = offsets[d]
            length = np.int32(1) + (run[pos[x - o], d] if codes[x - o] == a else np.int32(0))
            run[t, d] = length
            r[g, d, a, length - 1] += np.int32(codes[x + o] != a)
    return r.astype(np.float64)


@njit(cache=True, nogil=True)
def _add_offset(levels, o, lo, hi, alpha, tot, cnt, close):
    """tot, cnt, close[x] += level, in-ROI, |Δlevel| <= alpha of the neighbour x + o, x in [lo, hi)
    (written on slices with int32 arithmetic so that the loop vectorises)."""
    a = levels[lo + o:hi + o]
    b = levels[lo:hi]
    t = tot[lo:hi]
    c = cnt[lo:hi]
    cl = close[lo:hi]
    for x in range(hi - lo):
        w = a[x]
        inside = np.int32(w > 0)
        t[x] += w
        c[x] += inside
        cl[x] += inside & np.int32(abs(w - b[x]) <= alpha)


@njit(cache=True, nogil=True)
def neighbour_sums(levels, idx, offsets, n_inplane, alpha):
    """Per ROI voxel, over the first ``n_inplane`` offsets (2D) and over all (3D): sum of the
    neighbours' grey levels, number of neighbours in the ROI (level > 0) and number of those whose
    level differs from the voxel's by at most ``alpha`` (an integer: levels are integers).
    Returns (6, N) int64: 2D rows 0–2, 3D rows 3–5.

    Evaluated for every grid cell at once, offset by offset (contiguous, branch-free loops that
    the compiler vectorises), then read at the ROI voxels; levels outside the ROI are 0 and add
    nothing."""
    size = levels.size
    reach = 0
    for d in range(offsets.size):
        reach = max(reach, abs(offsets[d]))
    lo, hi = reach, max(reach, size - reach)
    alpha = np.int32(alpha)
    tot = np.zeros(size, np.int32)
    cnt = np.zeros(size, np.int32)
    close = np.zeros(size, np.int32)
    out = np.zeros((6, idx.size), np.int64)
    for d in range(offsets.size):
        if d == n_inplane:
            for t in range(idx.size):
                out[0, t], out[1, t], out[2, t] = tot[idx[t]], cnt[idx[t]], close[idx[t]]
        _add_offset(levels, offsets[d], lo, hi, alpha, tot, cnt, close)
    for t in range(idx.size):
        out[3, t], out[4, t], out[5, t] = tot[idx[t]], cnt[idx[t]], close[idx[t]]
        if n_inplane >= offsets.size:
            out[0, t], out[1, t], out[2, t] = out[3, t], out[4, t], out[5, t]
    return out


@njit(cache=True, nogil=True)
def _root(parent, t):
    while parent[t] != t:
        parent[t] = parent[parent[t]]  # path halving
        t = parent[t]
    return t


@njit(cache=True, nogil=True)
def label_zones(codes, idx, offsets, n):
    """Zone of each ROI voxel (0..Z-1, numbered in raster order of first voxel): voxels of equal
    code joined through the neighbour ``offsets`` (union-find over the offsets that precede a
    voxel in raster order, i.e. the negative ones; each link is seen once).

    Returns (zone per ROI voxel in ``idx`` order, number of zones)."""
    pos = np.full(codes.size, -1, np.int32)
    for t in range(idx.size):
        pos[idx[t]] = t
    parent = np.arange(idx.size).astype(np.int32)
    back = offsets[offsets < 0]
    for t in range(idx.size):
        x = idx[t]
        a = codes[x]
        rt = t
        for d in range(back.size):
            y = x + back[d]
            if codes[y] == a:
                rb = _root(parent, pos[y])
                rt = _root(parent, rt)
                if rt != rb:
                    if rt < rb:
                        parent[rb] = rt
                    else:
                        parent[rt] = rb
                        rt = rb
    zone = np.empty(idx.size, np.int64)
    label = np.full(idx.size, -1, np.int64)
    nz = 0
    for t in range(idx.size):
        r = _root(parent, t)
        if label[r] < 0:
            label[r] = nz
            nz += 1
        zone[t] = label[r]
    return zone, nz


@njit(cache=True, nogil=True)
def edge_distance(morph, dims3):
    """City-block distance of every voxel of the (zero-bordered) mask ``morph`` to the nearest voxel
    outside it: 6-connected steps (3D) or 4-connected steps within the slice (2D); 0 outside.

    Two raster passes (forward, backward) of the exact L1 chamfer transform (Rosenfeld and
    Pfaltz 1966)."""
    nk, nj, ni = morph.shape
    big = nk + nj + ni + 1
    d = np.zeros((nk, nj, ni), np.int64)
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                if morph[k, j, i]:
                    v = big
                    if dims3 and k > 0:
                        v = min(v, d[k - 1, j, i] + 1)
                    if j > 0:
                        v = min(v, d[k, j - 1, i] + 1)
                    if i > 0:
                        v = min(v, d[k, j, i - 1] + 1)
                    d[k, j, i] = v
    for k in range(nk - 1, -1, -1):
        for j in range(nj - 1, -1, -1):
            for i in range(ni - 1, -1, -1):
                if morph[k, j, i]:
                    v = d[k, j, i]
                    if dims3 and k + 1 < nk:
                        v = min(v, d[k + 1, j, i] + 1)
                    if j + 1 < nj:
                        v = min(v, d[k, j + 1, i] + 1)
                    if i + 1 < ni:
                        v = min(v, d[k, j, i + 1] + 1)
                    d[k, j, i] = v
    return d


# -- features --------------------------------------------------------------------------------

GLCM_NAMES = ("cm_joint_max", "cm_joint_avg", "cm_joint_var", "cm_joint_entr", "cm_diff_avg", "cm_diff_var",
              "cm_diff_entr", "cm_sum_avg", "cm_sum_var", "cm_sum_entr", "cm_energy", "cm_contrast",
              "cm_dissimilarity", "cm_inv_diff", "cm_inv_diff_norm", "cm_inv_diff_mom", "cm_inv_diff_mom_norm",
              "cm_inv_var", "cm_corr", "cm_auto_corr", "cm_clust_tend", "cm_clust_shade", "cm_clust_prom",
              "cm_info_corr1", "cm_info_corr2")


@njit(cache=True, nogil=True)
def _entropy(p):
    h = 0.0
    for x in p.ravel():
        if x > 0:
            h -= x * math.log(x)
    return h / _LN2


@njit(cache=True, nogil=True)
def glcm_features(ms, v, n_g):
    """The 25 GLCM features (rows in :data:`GLCM_NAMES` order) of each matrix of ``ms`` (B, n, n).

    ``v``: integer grey level of each row/column; ``n_g``: N_g of the discretisation.  IBSI 1 3.6
    with p = M / ΣM, p_i. and p_.j the marginals, p_{x−y}(k) = Σ_{|i−j|=k} p,
    p_{x+y}(k) = Σ_{i+j=k} p, HXY = −Σ p log2 p, HXY1 = −Σ p log2(p_i. p_.j),
    HXY2 = −Σ p_i. p_.j log2(p_i. p_.j) (both = HX + HY, the marginal entropies): correlation (Σ p i j − μ_i μ_j)/(σ_i σ_j) (NaN when
    σ_i σ_j = 0), info_corr1 = (HXY − HXY1)/max(HX, HY) (NaN when 0),
    info_corr2 = √(1 − exp(−2 (HXY2 − HXY))).  A matrix without counts gives NaN throughout.
    """
    b_n, n, _ = ms.shape
    out = np.full((25, b_n), np.nan)
    if n == 0:
        return out
    vmin = v.min()
    vmax = v.max()
    nd = int(vmax - vmin) + 1
    pi = np.empty(n)
    pj = np.empty(n)
    pd = np.empty(nd)
    ps = np.empty(2 * nd - 1)
    for b in range(b_n):
        m = ms[b]
        tot = m.sum()
        if not tot > 0:
            continue
        pi[:] = 0.0
        pj[:] = 0.0
        pd[:] = 0.0
        ps[:] = 0.0
        jmax = 0.0
        hxy = 0.0
        energy = contrast = dissim = idiff = idiffn = idm = idmn = ivar = auto = 0.0
        for i in range(n):
            for j in range(n):
                p = m[i, j] / tot
                if p == 0.0:
                    continue
                pi[i] += p
                pj[j] += p
                dif = abs(v[i] - v[j])
                pd[int(dif)] += p
                ps[int(v[i] + v[j] - 2 * vmin)] += p
                if p > jmax:
                    jmax = p
                hxy -= p * math.log(p)
                energy += p * p
                contrast += p * dif * dif
                dissim += p * dif
                idiff += p / (1.0 + dif)
                idiffn += p / (1.0 + dif / n_g)
                idm += p / (1.0 + dif * dif)
                idmn += p / (1.0 + dif * dif / (n_g * n_g))
                if dif > 0:
                    ivar += p / (dif * dif)
                auto += p * v[i] * v[j]
        hxy /= _LN2
        mu_i = 0.0
        mu_j = 0.0
        for i in range(n):
            mu_i += pi[i] * v[i]
            mu_j += pj[i] * v[i]
        var_i = 0.0
        var_j = 0.0
        for i in range(n):
            var_i += pi[i] * (v[i] - mu_i) ** 2
            var_j += pj[i] * (v[i] - mu_j) ** 2
        tend = shade = prom = 0.0
        for i in range(n):
            for j in range(n):
                p = m[i, j] / tot
                if p == 0.0:
                    continue
                t = v[i] + v[j] - mu_i - mu_j
                t2 = p * t * t
                tend += t2
                shade += t2 * t
                prom += t2 * t * t
        d_avg = 0.0
        for k in range(nd):
            d_avg += k * pd[k]
        d_var = 0.0
        for k in range(nd):
            d_var += pd[k] * (k - d_avg) ** 2
        s_avg = 0.0
        for k in range(2 * nd - 1):
            s_avg += (k + 2 * vmin) * ps[k]
        s_var = 0.0
        for k in range(2 * nd - 1):
            s_var += ps[k] * (k + 2 * vmin - s_avg) ** 2
        hx = _entropy(pi)
        hy = _entropy(pj)
        # HXY1 = −Σ p log2(p_i. p_.j) and HXY2 = −Σ p_i. p_.j log2(p_i. p_.j) both equal HX + HY
        # (sum over j, resp. i, first); no n² logarithms needed
        hxy1 = hxy2 = hx + hy
        out[0, b] = jmax
        out[1, b] = mu_i
        out[2, b] = var_i
        out[3, b] = hxy
        out[4, b] = d_avg
        out[5, b] = d_var
        out[6, b] = _entropy(pd)
        out[7, b] = s_avg
        out[8, b] = s_var
        out[9, b] = _entropy(ps)
        out[10, b] = energy
        out[11, b] = contrast
        out[12, b] = dissim
        out[13, b] = idiff
        out[14, b] = idiffn
        out[15, b] = idm
        out[16, b] = idmn
        out[17, b] = ivar
        out[18, b] = (auto - mu_i * mu_j) / math.sqrt(var_i * var_j) if var_i * var_j > 0 else np.nan
        out[19, b] = auto
        out[20, b] = tend
        out[21, b] = shade
        out[22, b] = prom
        hmax = max(hx, hy)
        out[23, b] = (hxy - hxy1) / hmax if hmax > 0 else np.nan
        out[24, b] = math.sqrt(max(0.0, 1.0 - math.exp(-2.0 * (hxy2 - hxy))))
    return out


ZONE_NAMES = ("se", "le", "lge", "hge", "slge", "shge", "llge", "lhge", "glnu", "glnu_norm", "sznu", "sznu_norm",
              "perc", "gl_var", "sz_var", "sz_entr", "energy")


@njit(cache=True, nogil=True)
def zone_features(ms, gl, size, n_voxels):
    """The 17 features shared by GLRLM, GLSZM, GLDZM and NGLDM (rows in :data:`ZONE_NAMES` order)
    of each matrix ``ms[b]`` (n, L): count of runs/zones/voxels with grey level gl[i] and run
    length / zone size / distance / dependence size[j]; ``n_voxels[b]``: N_v of each matrix.

    IBSI 1 3.7–3.9, 3.11 with N_s = Σ m, r_i = Σ_j m, r_j = Σ_i m, p = m / N_s: short emphasis
    Σ r_j/j² / N_s; long emphasis Σ r_j j² / N_s; low/high grey level emphasis Σ r_i i^(∓2) / N_s;
    the joint emphases Σ m i^(±2) j^(±2) / N_s; non-uniformities Σ r² / N_s (normalised / N_s²);
    percentage N_s / N_v; variances Σ (x − μ)² p; entropy −Σ p log2 p; energy Σ p².
    A matrix with N_s = 0 gives NaN throughout.
    """
    b_n, n, n_l = ms.shape
    out = np.full((17, b_n), np.nan)
    ri = np.empty(n)
    rj = np.empty(n_l)
    for b in range(b_n):
        m = ms[b]
        ri[:] = 0.0
        rj[:] = 0.0
        ns = 0.0
        slge = shge = llge = lhge = ent = energy = 0.0
        for i in range(n):
            i2 = gl[i] * gl[i]
            for j in range(n_l):
                x = m[i, j]
                if x == 0.0:
                    continue
                ri[i] += x
                rj[j] += x
                ns += x
                j2 = size[j] * size[j]
                slge += x / (i2 * j2)
                shge += x * i2 / j2
                llge += x * j2 / i2
                lhge += x * i2 * j2
        if not ns > 0:
            continue
        for i in range(n):
            for j in range(n_l):
                x = m[i, j]
                if x > 0:
                    p = x / ns
                    ent -= p * math.log(p)
                    energy += p * p
        se = le = lge = hge = glnu = sznu = mu_i = mu_j = 0.0
        for j in range(n_l):
            j2 = size[j] * size[j]
            se += rj[j] / j2
            le += rj[j] * j2
            sznu += rj[j] * rj[j]
            mu_j += size[j] * rj[j] / ns
        for i in range(n):
            i2 = gl[i] * gl[i]
            lge += ri[i] / i2
            hge += ri[i] * i2
            glnu += ri[i] * ri[i]
            mu_i += gl[i] * ri[i] / ns
        var_i = 0.0
        var_j = 0.0
        for i in range(n):
            var_i += ri[i] / ns * (gl[i] - mu_i) ** 2
        for j in range(n_l):
            var_j += rj[j] / ns * (size[j] - mu_j) ** 2
        out[0, b] = se / ns
        out[1, b] = le / ns
        out[2, b] = lge / ns
        out[3, b] = hge / ns
        out[4, b] = slge / ns
        out[5, b] = shge / ns
        out[6, b] = llge / ns
        out[7, b] = lhge / ns
        out[8, b] = glnu / ns
        out[9, b] = glnu / (ns * ns)
        out[10, b] = sznu / ns
        out[11, b] = sznu / (ns * ns)
        out[12, b] = ns / n_voxels[b]
        out[13, b] = var_i
        out[14, b] = var_j
        out[15, b] = ent / _LN2
        out[16, b] = energy
    return out


NGTDM_NAMES = ("ngt_coarseness", "ngt_contrast", "ngt_busyness", "ngt_complexity", "ngt_strength")


@njit(cache=True, nogil=True)
def ngtdm_features(counts, sums, v, coarseness_max):
    """The 5 NGTDM features (rows in :data:`NGTDM_NAMES` order) of each matrix: voxel counts
    ``counts[b, i]``, sums of |i − Ā| ``sums[b, i]``, levels ``v[i]``; formulas in
    :mod:`theranomics.radiomics.texture.ngtdm`.  No counts: NaN."""
    b_n, n = counts.shape
    out = np.full((5, b_n), np.nan)
    p = np.empty(n)
    for b in range(b_n):
        nvc = 0.0
        for i in range(n):
            nvc += counts[b, i]
        if not nvc > 0:
            continue
        ngp = 0
        x = 0.0
        s_tot = 0.0
        for i in range(n):
            p[i] = counts[b, i] / nvc
            if p[i] > 0:
                ngp += 1
            x += p[i] * sums[b, i]
            s_tot += sums[b, i]
        con = den = cplx = strength = 0.0
        for i in range(n):
            if p[i] == 0:
                continue
            for j in range(n):
                if p[j] == 0:
                    continue
                dv = v[i] - v[j]
                con += p[i] * p[j] * dv * dv
                den += abs(p[i] * v[i] - p[j] * v[j])
                cplx += abs(dv) * (p[i] * sums[b, i] + p[j] * sums[b, j]) / (p[i] + p[j])
                strength += (p[i] + p[j]) * dv * dv
        out[0, b] = 1.0 / x if x > 0 else coarseness_max
        out[1, b] = con / (ngp * (ngp - 1.0)) * s_tot / nvc if ngp > 1 else 0.0
        out[2, b] = x / den if (ngp > 1 and den > 0) else 0.0
        out[3, b] = cplx / nvc
        out[4, b] = strength / s_tot if s_tot > 0 else 0.0
    return out


@njit(cache=True, nogil=True)
def zone_table(zone_of, n_zones, levels, group, dist):
    """Per zone: (group of its first voxel, grey level, size in voxels, smallest ``dist``)."""
    grp = np.zeros(n_zones, np.int64)
    lev = np.zeros(n_zones, np.int64)
    size = np.zeros(n_zones, np.int64)
    zd = np.full(n_zones, np.iinfo(np.int64).max, np.int64)
    for t in range(zone_of.size):
        z = zone_of[t]
        if size[z] == 0:
            grp[z] = group[t]
            lev[z] = levels[t]
        size[z] += 1
        if dist[t] < zd[z]:
            zd[z] = dist[t]
    return grp, lev, size, zd


@njit(cache=True, nogil=True)
def group_nanmean(x, sizes):
    """Mean of each row of ``x`` (F, B) over consecutive column groups of ``sizes``, NaN values
    left out (NaN when a group has none): (F, n_groups)."""
    f_n = x.shape[0]
    out = np.full((f_n, sizes.size), np.nan)
    for f in range(f_n):
        start = 0
        for g in range(sizes.size):
            total = 0.0
            n = 0
            for b in range(start, start + sizes[g]):
                v = x[f, b]
                if not np.isnan(v):
                    total += v
                    n += 1
            if n > 0:
                out[f, g] = total / n
            start += sizes[g]
    return out


@njit(cache=True, nogil=True)
def build_grid(levels, mask, morph, pad):
    """Crop to the bounding box of ``mask | morph`` and zero-pad by ``pad``: (grid int32 with the
    levels inside ``mask`` and 0 elsewhere, padded morph mask, flat indices of the ``mask`` voxels
    in the grid (raster order), their levels, their slice k in the grid, number of ``mask``
    voxels outside ``morph``, lowest and highest level inside ``mask``).  An empty mask gives an
    empty (2·pad)³ grid."""
    nk, nj, ni = levels.shape
    k0, j0, i0 = nk, nj, ni
    k1 = j1 = i1 = -1
    n = 0
    bad = 0
    lo = np.iinfo(np.int32).max
    hi = np.iinfo(np.int32).min
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                a = mask[k, j, i]
                b = morph[k, j, i]
                if a or b:
                    k0, k1 = min(k0, k), max(k1, k)
                    j0, j1 = min(j0, j), max(j1, j)
                    i0, i1 = min(i0, i), max(i1, i)
                if a:
                    n += 1
                    if not b:
                        bad += 1
                    v = levels[k, j, i]
                    lo, hi = min(lo, v), max(hi, v)
    if k1 < 0:
        k0 = j0 = i0 = 0
        k1 = j1 = i1 = -1
    gk, gj, gi = k1 - k0 + 1 + 2 * pad, j1 - j0 + 1 + 2 * pad, i1 - i0 + 1 + 2 * pad
    grid = np.zeros((gk, gj, gi), np.int32)
    mg = np.zeros((gk, gj, gi), np.bool_)
    idx = np.empty(n, np.int64)
    vals = np.empty(n, np.int64)
    kk = np.empty(n, np.int64)
    t = 0
    for k in range(k0, k1 + 1):
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                a, b, c = k - k0 + pad, j - j0 + pad, i - i0 + pad
                mg[a, b, c] = morph[k, j, i]
                if mask[k, j, i]:
                    v = levels[k, j, i]
                    grid[a, b, c] = v
                    idx[t] = (a * gj + b) * gi + c
                    vals[t] = v
                    kk[t] = a
                    t += 1
    return grid, mg, idx, vals, kk, bad, lo, hi


@njit(cache=True, nogil=True)
def count_matrix(batch, n_batch, row_code, n_rows, cols):
    """M[b, r, c] = number of items with batch b, row code r and column value cols → code c, the
    columns compacted to the values present (sorted); returns (M, column values)."""
    cmax = 0
    for t in range(cols.size):
        cmax = max(cmax, cols[t])
    present = np.zeros(cmax + 1, np.bool_)
    for t in range(cols.size):
        present[cols[t]] = True
    lut = np.full(cmax + 1, -1, np.int64)
    n_cols = 0
    for v in range(cmax + 1):
        if present[v]:
            lut[v] = n_cols
            n_cols += 1
    values = np.ones(max(n_cols, 1))
    for v in range(cmax + 1):
        if present[v]:
            values[lut[v]] = v
    m = np.zeros((n_batch, n_rows, max(n_cols, 1)))
    for t in range(cols.size):
        m[batch[t], row_code[t], lut[cols[t]]] += 1.0
    return m, values


@njit(cache=True, nogil=True)
def ngtdm_sums(codes, levels, total, count, group, n_groups, n):
    """NGTDM n_i (voxels with at least one ROI neighbour) and s_i = Σ |i − Ā| (Ā = mean
    neighbour level) per group and level code: two (n_groups, n) arrays."""
    cnt = np.zeros((n_groups, n))
    s = np.zeros((n_groups, n))
    for t in range(codes.size):
        if count[t] > 0:
            cnt[group[t], codes[t]] += 1.0
            s[group[t], codes[t]] += abs(levels[t] - total[t] / count[t])
    return cnt, s
