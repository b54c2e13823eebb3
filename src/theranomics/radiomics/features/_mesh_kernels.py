"""Compiled (numba) kernels of the morphology family (private).

* :func:`mesh_cells` — marching-cubes volume and area of a binary mask per 2×2×2 cell, from the
  tables of :func:`theranomics.radiomics.features.morphology._cell_tables`, and the mesh vertices
  (edge midpoints) as integers on the half-voxel lattice;
* :func:`line_ends` — the exact hull pre-filter: only the two end points of any lattice line can
  be convex-hull vertices;
* :func:`convex_hull` — the 3-D convex hull of integer points by Quickhull (Barber, Dobkin and
  Huhdanpaa, ACM TOMS 1996) with exact integer orientation tests, so the many coplanar lattice
  points need no facet merging: a point is added only when it lies strictly above a facet;
* :func:`hull_measures` — hull volume (Σ a·(b × c)/6, exact in integers), area and the maximum
  distance between hull vertices in mm.

All coordinates are int64 on the half-voxel lattice (2·index, +1 for an edge midpoint); the
orientation determinants stay far below 2⁶³ for any image that fits in memory.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def mesh_cells(m, c0, nvec, area_tab):
    """Signed Σ (c0[cfg] + o·n[cfg]) (6 × volume in cell units), Σ area[cfg] (mm²) and the vertices
    (V, 3) int64 on the half-voxel lattice of the zero-padded boolean mask ``m``."""
    nk, nj, ni = m.shape
    signed = 0.0
    area = 0.0
    for k in range(nk - 1):
        for j in range(nj - 1):
            for i in range(ni - 1):
                cfg = (np.int64(m[k, j, i]) | (np.int64(m[k, j, i + 1]) << 1) | (np.int64(m[k, j + 1, i]) << 2)
                       | (np.int64(m[k, j + 1, i + 1]) << 3) | (np.int64(m[k + 1, j, i]) << 4)
                       | (np.int64(m[k + 1, j, i + 1]) << 5) | (np.int64(m[k + 1, j + 1, i]) << 6)
                       | (np.int64(m[k + 1, j + 1, i + 1]) << 7))
                if cfg != 0 and cfg != 255:
                    signed += c0[cfg] + k * nvec[cfg, 0] + j * nvec[cfg, 1] + i * nvec[cfg, 2]
                    area += area_tab[cfg]
    # vertices: midpoints of the edges between an inside and an outside voxel
    count = 0
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                a = m[k, j, i]
                if k + 1 < nk and m[k + 1, j, i] != a:
                    count += 1
                if j + 1 < nj and m[k, j + 1, i] != a:
                    count += 1
                if i + 1 < ni and m[k, j, i + 1] != a:
                    count += 1
    verts = np.empty((count, 3), np.int64)
    n = 0
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                a = m[k, j, i]
                if k + 1 < nk and m[k + 1, j, i] != a:
                    verts[n, 0], verts[n, 1], verts[n, 2] = 2 * k + 1, 2 * j, 2 * i
                    n += 1
                if j + 1 < nj and m[k, j + 1, i] != a:
                    verts[n, 0], verts[n, 1], verts[n, 2] = 2 * k, 2 * j + 1, 2 * i
                    n += 1
                if i + 1 < ni and m[k, j, i + 1] != a:
                    verts[n, 0], verts[n, 1], verts[n, 2] = 2 * k, 2 * j, 2 * i + 1
                    n += 1
    return signed, area, verts


@njit(cache=True, nogil=True)
def line_ends(pts):
    """Indices of the points (int64, >= 0) that are an end of their line along each axis.

    Applied along k, then j, then i, each time to the survivors: a point between two others on a
    line is not a hull vertex, so the hull of the survivors equals the hull of ``pts``.
    """
    p = pts.shape[0]
    keep = np.arange(p)
    if p == 0:
        return keep
    dims = np.empty(3, np.int64)
    for a in range(3):
        dims[a] = pts[:, a].max() + 1
    for axis in range(3):
        b = (axis + 1) % 3
        c = (axis + 2) % 3
        size = dims[b] * dims[c]
        lo = np.full(size, np.iinfo(np.int64).max, np.int64)
        hi = np.full(size, -1, np.int64)
        for t in range(keep.size):
            q = keep[t]
            key = pts[q, b] * dims[c] + pts[q, c]
            v = pts[q, axis]
            if v < lo[key]:
                lo[key] = v
            if v > hi[key]:
                hi[key] = v
        n = 0
        for t in range(keep.size):
            q = keep[t]
            key = pts[q, b] * dims[c] + pts[q, c]
            v = pts[q, axis]
            if v == lo[key] or v == hi[key]:
                keep[n] = q
                n += 1
        keep = keep[:n].copy()
    return keep


@njit(cache=True, nogil=True)
def plane_hull_vertices(pts, keep):
    """The subset of ``pts[keep]`` (indices) that are vertices of the 2-D convex hull of the points
    in their lattice plane, for the planes normal to each axis in turn.

    A 3-D hull vertex is a vertex of the hull of any plane section through it.  Per plane, the
    rows (second axis) give the smallest and largest third coordinate; the lower chain of the
    smallest and the upper chain of the largest (Andrew's monotone chain, rows already in order,
    collinear points dropped) contain every vertex of the plane's hull.
    """
    dims = np.empty(3, np.int64)
    for a in range(3):
        dims[a] = pts[:, a].max() + 1
    for a in range(3):
        b = (a + 1) % 3
        c = (a + 2) % 3
        nb = dims[b]
        size = dims[a] * nb
        lo = np.full(size, np.iinfo(np.int64).max, np.int64)
        hi = np.full(size, -1, np.int64)
        for t in range(keep.size):
            q = keep[t]
            key = pts[q, a] * nb + pts[q, b]
            v = pts[q, c]
            if v < lo[key]:
                lo[key] = v
            if v > hi[key]:
                hi[key] = v
        keep_lo = np.zeros(size, np.bool_)
        keep_hi = np.zeros(size, np.bool_)
        stack = np.empty(nb, np.int64)
        for plane in range(dims[a]):
            base = plane * nb
            for upper in range(2):
                top = 0
                for row in range(nb):
                    if hi[base + row] < 0:
                        continue
                    y = hi[base + row] if upper else lo[base + row]
                    while top >= 2:
                        r0, r1 = stack[top - 2], stack[top - 1]
                        y0 = hi[base + r0] if upper else lo[base + r0]
                        y1 = hi[base + r1] if upper else lo[base + r1]
                        cross = (r1 - r0) * (y - y0) - (y1 - y0) * (row - r0)
                        if (cross >= 0) if upper else (cross <= 0):
                            top -= 1
                        else:
                            break
                    stack[top] = row
                    top += 1
                for t in range(top):
                    if upper:
                        keep_hi[base + stack[t]] = True
                    else:
                        keep_lo[base + stack[t]] = True
        n = 0
        for t in range(keep.size):
            q = keep[t]
            key = pts[q, a] * nb + pts[q, b]
            v = pts[q, c]
            if (v == lo[key] and keep_lo[key]) or (v == hi[key] and keep_hi[key]):
                keep[n] = q
                n += 1
        keep = keep[:n].copy()
    return keep


@njit(cache=True, nogil=True)
def _plane(pts, a, b, c):
    ux, uy, uz = pts[b, 0] - pts[a, 0], pts[b, 1] - pts[a, 1], pts[b, 2] - pts[a, 2]
    vx, vy, vz = pts[c, 0] - pts[a, 0], pts[c, 1] - pts[a, 1], pts[c, 2] - pts[a, 2]
    nx = uy * vz - uz * vy
    ny = uz * vx - ux * vz
    nz = ux * vy - uy * vx
    return nx, ny, nz, nx * pts[a, 0] + ny * pts[a, 1] + nz * pts[a, 2]


@njit(cache=True, nogil=True)
def convex_hull(pts):
    """Triangles (F, 3) of the convex hull of integer points ``pts`` (P, 3), counter-clockwise
    seen from outside; empty when the points are coplanar (no volume)."""
    p_n = pts.shape[0]
    empty = np.zeros((0, 3), np.int64)
    if p_n < 4:
        return empty
    # initial simplex: extremes along the widest axis, the farthest point from their line,
    # the farthest point from the plane of those three
    ax = 0
    best = -1
    for a in range(3):
        span = pts[:, a].max() - pts[:, a].min()
        if span > best:
            best, ax = span, a
    i0 = np.argmin(pts[:, ax])
    i1 = np.argmax(pts[:, ax])
    if i0 == i1:
        return empty
    dx, dy, dz = pts[i1, 0] - pts[i0, 0], pts[i1, 1] - pts[i0, 1], pts[i1, 2] - pts[i0, 2]
    i2, best = -1, 0
    for q in range(p_n):
        ex, ey, ez = pts[q, 0] - pts[i0, 0], pts[q, 1] - pts[i0, 1], pts[q, 2] - pts[i0, 2]
        cx, cy, cz = dy * ez - dz * ey, dz * ex - dx * ez, dx * ey - dy * ex
        d2 = cx * cx + cy * cy + cz * cz
        if d2 > best:
            best, i2 = d2, q
    if i2 < 0:
        return empty
    nx, ny, nz, off = _plane(pts, i0, i1, i2)
    i3, best = -1, 0
    for q in range(p_n):
        d = nx * pts[q, 0] + ny * pts[q, 1] + nz * pts[q, 2] - off
        if abs(d) > best:
            best, i3 = abs(d), q
    if i3 < 0:
        return empty

    cap = 64 + 8 * p_n
    fv = np.empty((cap, 3), np.int64)
    fnb = np.full((cap, 3), -1, np.int64)
    fpl = np.empty((cap, 4), np.int64)
    alive = np.zeros(cap, np.bool_)
    head = np.full(cap, -1, np.int64)
    fmax = np.zeros(cap, np.int64)
    fmaxp = np.full(cap, -1, np.int64)
    vis = np.zeros(cap, np.int64)
    nxt = np.full(p_n, -1, np.int64)

    simplex = ((i0, i1, i2), (i0, i3, i1), (i1, i3, i2), (i2, i3, i0))
    others = (i3, i2, i0, i1)
    for f in range(4):
        a, b, c = simplex[f]
        nx, ny, nz, off = _plane(pts, a, b, c)
        o = others[f]
        if nx * pts[o, 0] + ny * pts[o, 1] + nz * pts[o, 2] - off > 0:
            b, c = c, b
            nx, ny, nz, off = -nx, -ny, -nz, -off
        fv[f, 0], fv[f, 1], fv[f, 2] = a, b, c
        fpl[f, 0], fpl[f, 1], fpl[f, 2], fpl[f, 3] = nx, ny, nz, off
        alive[f] = True
    for f in range(4):
        for e in range(3):
            a, b = fv[f, e], fv[f, (e + 1) % 3]
            for g in range(4):
                if g != f:
                    for e2 in range(3):
                        if fv[g, e2] == b and fv[g, (e2 + 1) % 3] == a:
                            fnb[f, e] = g
    nf = 4
    for q in range(p_n):
        if q == i0 or q == i1 or q == i2 or q == i3:
            continue
        for f in range(4):
            d = fpl[f, 0] * pts[q, 0] + fpl[f, 1] * pts[q, 1] + fpl[f, 2] * pts[q, 2] - fpl[f, 3]
            if d > 0:
                nxt[q] = head[f]
                head[f] = q
                if d > fmax[f]:
                    fmax[f], fmaxp[f] = d, q
                break

    stamp = 0
    start_face = np.full(p_n, -1, np.int64)
    end_face = np.full(p_n, -1, np.int64)
    stack = np.empty(cap, np.int64)
    visible = np.empty(cap, np.int64)
    hz = np.empty((cap, 3), np.int64)
    f = 0
    while f < nf:
        if not alive[f] or head[f] < 0:
            f += 1
            continue
        p = fmaxp[f]
        px, py, pz = pts[p, 0], pts[p, 1], pts[p, 2]
        stamp += 1
        # visible facets: flood from f over neighbours that p lies strictly above
        n_vis, n_stack = 0, 0
        vis[f] = stamp
        visible[n_vis] = f
        n_vis += 1
        stack[n_stack] = f
        n_stack += 1
        while n_stack > 0:
            n_stack -= 1
            g = stack[n_stack]
            for e in range(3):
                h = fnb[g, e]
                if vis[h] == stamp or vis[h] == -stamp:
                    continue
                if fpl[h, 0] * px + fpl[h, 1] * py + fpl[h, 2] * pz - fpl[h, 3] > 0:
                    vis[h] = stamp
                    visible[n_vis] = h
                    n_vis += 1
                    stack[n_stack] = h
                    n_stack += 1
                else:
                    vis[h] = -stamp
        # horizon: edges of visible facets whose neighbour is not visible
        n_hz = 0
        for t in range(n_vis):
            g = visible[t]
            for e in range(3):
                h = fnb[g, e]
                if vis[h] != stamp:
                    hz[n_hz, 0], hz[n_hz, 1], hz[n_hz, 2] = fv[g, e], fv[g, (e + 1) % 3], h
                    n_hz += 1
        if nf + n_hz > cap:
            new_cap = 2 * (nf + n_hz)
            fv2 = np.empty((new_cap, 3), np.int64)
            fv2[:nf] = fv[:nf]
            fv = fv2
            fnb2 = np.full((new_cap, 3), -1, np.int64)
            fnb2[:nf] = fnb[:nf]
            fnb = fnb2
            fpl2 = np.empty((new_cap, 4), np.int64)
            fpl2[:nf] = fpl[:nf]
            fpl = fpl2
            alive2 = np.zeros(new_cap, np.bool_)
            alive2[:nf] = alive[:nf]
            alive = alive2
            head2 = np.full(new_cap, -1, np.int64)
            head2[:nf] = head[:nf]
            head = head2
            fmax2 = np.zeros(new_cap, np.int64)
            fmax2[:nf] = fmax[:nf]
            fmax = fmax2
            fmaxp2 = np.full(new_cap, -1, np.int64)
            fmaxp2[:nf] = fmaxp[:nf]
            fmaxp = fmaxp2
            vis2 = np.zeros(new_cap, np.int64)
            vis2[:nf] = vis[:nf]
            vis = vis2
            stack = np.empty(new_cap, np.int64)
            visible2 = np.empty(new_cap, np.int64)
            visible2[:n_vis] = visible[:n_vis]
            visible = visible2
            hz2 = np.empty((new_cap, 3), np.int64)
            hz2[:n_hz] = hz[:n_hz]
            hz = hz2
            cap = new_cap
        first_new = nf
        for t in range(n_hz):
            a, b, h = hz[t, 0], hz[t, 1], hz[t, 2]
            g = nf
            nf += 1
            fv[g, 0], fv[g, 1], fv[g, 2] = a, b, p
            nx, ny, nz, off = _plane(pts, a, b, p)
            fpl[g, 0], fpl[g, 1], fpl[g, 2], fpl[g, 3] = nx, ny, nz, off
            alive[g] = True
            head[g] = -1
            fmax[g] = 0
            fmaxp[g] = -1
            vis[g] = 0
            fnb[g, 0] = h
            for e2 in range(3):
                if fv[h, e2] == b and fv[h, (e2 + 1) % 3] == a:
                    fnb[h, e2] = g
            start_face[a] = g
            end_face[b] = g
        for g in range(first_new, nf):
            fnb[g, 1] = start_face[fv[g, 1]]
            fnb[g, 2] = end_face[fv[g, 0]]
        # hand the outside points of the visible facets to the new facets
        for t in range(n_vis):
            g = visible[t]
            alive[g] = False
            q = head[g]
            while q >= 0:
                q_next = nxt[q]
                if q != p:
                    for h in range(first_new, nf):
                        d = fpl[h, 0] * pts[q, 0] + fpl[h, 1] * pts[q, 1] + fpl[h, 2] * pts[q, 2] - fpl[h, 3]
                        if d > 0:
                            nxt[q] = head[h]
                            head[h] = q
                            if d > fmax[h]:
                                fmax[h], fmaxp[h] = d, q
                            break
                q = q_next
            head[g] = -1
        f += 1
    n_alive = 0
    for g in range(nf):
        if alive[g]:
            n_alive += 1
    out = np.empty((n_alive, 3), np.int64)
    n = 0
    for g in range(nf):
        if alive[g]:
            out[n] = fv[g]
            n += 1
    return out


@njit(cache=True, nogil=True)
def hull_measures(pts, faces, half_mm):
    """(volume mm³, area mm², maximum vertex distance mm) of the hull ``faces`` of lattice points
    ``pts``; ``half_mm``: mm per lattice unit along each axis (half the voxel spacing)."""
    vol6 = 0
    area = 0.0
    used = np.zeros(pts.shape[0], np.bool_)
    for t in range(faces.shape[0]):
        a, b, c = faces[t, 0], faces[t, 1], faces[t, 2]
        used[a] = used[b] = used[c] = True
        vol6 += (pts[a, 0] * (pts[b, 1] * pts[c, 2] - pts[b, 2] * pts[c, 1])
                 + pts[a, 1] * (pts[b, 2] * pts[c, 0] - pts[b, 0] * pts[c, 2])
                 + pts[a, 2] * (pts[b, 0] * pts[c, 1] - pts[b, 1] * pts[c, 0]))
        ux = (pts[b, 0] - pts[a, 0]) * half_mm[0]
        uy = (pts[b, 1] - pts[a, 1]) * half_mm[1]
        uz = (pts[b, 2] - pts[a, 2]) * half_mm[2]
        vx = (pts[c, 0] - pts[a, 0]) * half_mm[0]
        vy = (pts[c, 1] - pts[a, 1]) * half_mm[1]
        vz = (pts[c, 2] - pts[a, 2]) * half_mm[2]
        cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
        area += 0.5 * np.sqrt(cx * cx + cy * cy + cz * cz)
    idx = np.flatnonzero(used)
    volume = abs(vol6) / 6.0 * half_mm[0] * half_mm[1] * half_mm[2]
    return volume, area, max_distance(pts, idx, half_mm)


@njit(cache=True, nogil=True)
def max_distance(pts, idx, half_mm):
    """Largest distance (mm) between two of the points ``pts[idx]``."""
    best = 0.0
    n = idx.size
    for s in range(n):
        a = idx[s]
        x, y, z = pts[a, 0] * half_mm[0], pts[a, 1] * half_mm[1], pts[a, 2] * half_mm[2]
        for t in range(s + 1, n):
            b = idx[t]
            dx = pts[b, 0] * half_mm[0] - x
            dy = pts[b, 1] * half_mm[1] - y
            dz = pts[b, 2] * half_mm[2] - z
            d = dx * dx + dy * dy + dz * dz
            if d > best:
                best = d
    return np.sqrt(best)


@njit(cache=True, nogil=True)
def mask_moments(morph, intm, image, sk):
    """Voxel count, centre (mm) and covariance (1/(N − 1), mm²) of the morphological mask, and the
    intensity sum and intensity-weighted centre (mm) of the intensity mask (two passes)."""
    nk, nj, ni = morph.shape
    n = 0
    s = np.zeros(3)
    ni_ = 0
    w_sum = 0.0
    ws = np.zeros(3)
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                if morph[k, j, i]:
                    n += 1
                    s[0] += k
                    s[1] += j
                    s[2] += i
                if intm[k, j, i]:
                    w = image[k, j, i]
                    ni_ += 1
                    w_sum += w
                    ws[0] += w * k
                    ws[1] += w * j
                    ws[2] += w * i
    mean = s / max(n, 1)
    cov = np.zeros((3, 3))
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                if morph[k, j, i]:
                    d0 = (k - mean[0]) * sk[0]
                    d1 = (j - mean[1]) * sk[1]
                    d2 = (i - mean[2]) * sk[2]
                    cov[0, 0] += d0 * d0
                    cov[0, 1] += d0 * d1
                    cov[0, 2] += d0 * d2
                    cov[1, 1] += d1 * d1
                    cov[1, 2] += d1 * d2
                    cov[2, 2] += d2 * d2
    if n > 1:
        cov /= n - 1
    cov[1, 0], cov[2, 0], cov[2, 1] = cov[0, 1], cov[0, 2], cov[1, 2]
    return n, mean * sk, cov, ni_, w_sum, ws * sk


@njit(cache=True, nogil=True)
def shape_measures(morph, intm, image, sk, c0, nvec, area_tab):
    """Everything the morphology family needs from one ROI, in one call: (signed 6 × mesh volume
    in cell units, mesh area mm², morphological voxel count, its centre (mm) and covariance,
    intensity voxel count, intensity sum and weighted centre (mm), hull volume mm³, hull area mm²
    (NaN when flat), maximum diameter mm, extent of the mesh vertices (mm, k, j, i)).

    The morphological mask is cropped to its bounding box and zero-padded by one voxel for the
    mesh (:func:`mesh_cells`); hull by :func:`line_ends` + :func:`convex_hull`."""
    nk, nj, ni = morph.shape
    k0, j0, i0 = nk, nj, ni
    k1 = j1 = i1 = -1
    for k in range(nk):
        for j in range(nj):
            for i in range(ni):
                if morph[k, j, i]:
                    k0, k1 = min(k0, k), max(k1, k)
                    j0, j1 = min(j0, j), max(j1, j)
                    i0, i1 = min(i0, i), max(i1, i)
    m = np.zeros((k1 - k0 + 3, j1 - j0 + 3, i1 - i0 + 3), np.uint8)
    for k in range(k0, k1 + 1):
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                m[k - k0 + 1, j - j0 + 1, i - i0 + 1] = morph[k, j, i]
    signed, area, lattice = mesh_cells(m, c0, nvec, area_tab)
    n_vox, centre, cov, n_int, w_sum, w_centre = mask_moments(
        morph[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1], intm[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1],
        image[k0:k1 + 1, j0:j1 + 1, i0:i1 + 1], sk)
    half = sk / 2.0
    ext = np.zeros(3)
    for a in range(3):
        ext[a] = (lattice[:, a].max() - lattice[:, a].min()) * half[a]
        lattice[:, a] -= lattice[:, a].min()
    cand = lattice[plane_hull_vertices(lattice, line_ends(lattice))]
    faces = convex_hull(cand)
    if faces.shape[0] == 0:
        hull_volume = hull_area = np.nan
        diam = max_distance(cand, np.arange(cand.shape[0]), half)
    else:
        hull_volume, hull_area, diam = hull_measures(cand, faces, half)
    return (signed, area, n_vox, centre, cov, n_int, w_sum, w_centre, hull_volume, hull_area, diam, ext)
