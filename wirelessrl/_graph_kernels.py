r"""Numba kernels of the graph network's input: the interference graph straight from the
linear gains (:meth:`wirelessrl.gnn.Graph.from_gains`), one read of ``g``.

The graph of a layout keeps, for every link ``i``, the ``k`` neighbours ``j != i`` of
largest score ``max(g_ij, g_ji)`` (:func:`wirelessrl.gnn.neighbours` ranks the same
scores in dB: the dB map is increasing). Only the kept edges and the diagonal are
scaled (``G = max(g P_max / sigma^2, floor)``) or taken to dB, and no ``[n, n]``
temporary is made: memory is linear in the candidate edges.

Sparse selection (:func:`sparse_graph`), per layout:

1. a threshold ``t0`` from a few sampled rows (the incoming gain at pooled rank
   ``rho k`` per row, columns subsampled), so that a typical row has ``~rho k`` entries
   above it;
2. one pass over the rows of ``g`` (contiguous reads, validity check of every entry)
   keeps every ``g_ij > t0`` in a compressed row list; its transpose gives every
   ``g_ji > t0``: merged, a link's candidates are exactly the ``j`` of score ``> t0``;
3. the ``k`` largest candidates of every row (quickselect); a row with fewer than ``k``
   candidates (weak neighbours, e.g. at the field edge) is redone on its whole row and
   column, gathered for a block of such rows in one pass over ``g``.

The result is the exact top-``k`` set whatever ``t0`` is (``t0`` only sets the work);
ties are broken towards the smaller index ``j``. The inner loops that touch every entry
(the row compression, the quickselect partitions, the emission) pack the selected entries
of 8 or 16 lanes with LLVM's ``vector.compress`` and store the whole vector (one AVX-512
``vcompress`` into a register where the CPU has it; LLVM expands it to scalar code
elsewhere, with the same results). The register form, not ``masked.compressstore``: the
store form of ``vcompress`` is microcoded on AMD Zen 4, and this kernel took twice as long
there (5.1 against 2.5 ms per layout at N = 1,000, k = 49). A call therefore writes all
lanes of ``out[q:q + width]``, past the ``m`` it keeps.
"""

from __future__ import annotations

import threading

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_BAD_OFFSET = np.uint64(1 << 52)
_SIGN = np.uint64(63)
_SAMPLE_ROWS = 8
_SAMPLE_COLS = 256
_FALLBACK_BLOCK = 64
_ROW_BLOCK = 64        # rows per block of the transposed lists (at least) ...
_MAX_ROW_BLOCKS = 16   # ... and at most this many blocks (their offsets: 16 (n + 1))
_WI = 16  # lanes per compress of indices (int32)
_WV = 8   # lanes per compress of values (float64)


def _splat(builder, vec_type, value):
    """``<w x T>`` with every lane ``value``."""
    lane0 = ir.Constant(ir.IntType(32), 0)
    v = builder.insert_element(ir.Constant(vec_type, ir.Undefined), value, lane0)
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vec_type.count), [0] * vec_type.count)
    return builder.shuffle_vector(v, ir.Constant(vec_type, ir.Undefined), zeros)


def _compress_codegen(width, elem, store_indices, greater):
    """Codegen of ``out[q:q+m] = (x[j0 + t] or j0 + t for t < width if x[j0 + t] <op> th)``,
    returning ``m`` (``<op>``: ``>`` if ``greater`` else ``<``): ``vector.compress`` into a
    register, then one store of all ``width`` lanes (module docstring)."""
    def codegen(context, builder, sig, args):
        x_v, j0, th, out_v, q = args
        x = context.make_array(sig.args[0])(context, builder, x_v)
        out = context.make_array(sig.args[3])(context, builder, out_v)
        i32 = ir.IntType(32)
        vf = ir.VectorType(ir.DoubleType(), width)
        vals = builder.load(builder.bitcast(builder.gep(x.data, [j0]), vf.as_pointer()),
                            align=8)
        mask = builder.fcmp_ordered(">" if greater else "<", vals, _splat(builder, vf, th))
        if store_indices:
            vi = ir.VectorType(i32, width)
            payload = builder.add(_splat(builder, vi, builder.trunc(j0, i32)),
                                  ir.Constant(vi, list(range(width))))
        else:
            payload = vals
        dst = builder.gep(out.data, [q])
        fn = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(payload.type, [payload.type, mask.type, payload.type]),
            f"llvm.experimental.vector.compress.v{width}{elem}")
        packed = builder.call(fn, [payload, mask, ir.Constant(payload.type, ir.Undefined)])
        builder.store(packed, builder.bitcast(dst, payload.type.as_pointer()), align=4)
        bits = builder.bitcast(mask, ir.IntType(width))
        ctpop = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(width), [ir.IntType(width)]),
            f"llvm.ctpop.i{width}")
        return builder.zext(builder.call(ctpop, [bits]), ir.IntType(64))
    return codegen


@intrinsic
def _compress_idx_gt(typingctx, x, j0, th, out, q):
    """``out[q:q+m] = [j0 + t for t < 16 if x[j0 + t] > th]`` (int32), returns ``m``;
    reads ``x[j0:j0+16]``, writes all of ``out[q:q+16]`` (past ``m``: unspecified)."""
    return types.int64(x, j0, th, out, q), _compress_codegen(_WI, "i32", True, True)


@intrinsic
def _compress_val_gt(typingctx, x, j0, th, out, q):
    """``out[q:q+m] = [x[j0 + t] for t < 8 if x[j0 + t] > th]`` (float64), returns ``m``;
    writes all of ``out[q:q+8]``."""
    return types.int64(x, j0, th, out, q), _compress_codegen(_WV, "f64", False, True)


@intrinsic
def _compress_val_lt(typingctx, x, j0, th, out, q):
    """As :func:`_compress_val_gt` with ``<``."""
    return types.int64(x, j0, th, out, q), _compress_codegen(_WV, "f64", False, False)


@njit(cache=True, inline="always")
def _bad_bits(u: np.ndarray) -> np.uint64:
    """OR over ``u | (u + 2^52)`` of the float64 bit patterns ``u : [m]``: the sign bit is
    set iff an entry is negative (or -0.0), infinite or NaN (vectorized reduction)."""
    acc = np.uint64(0)
    for j in range(u.shape[0]):
        x = u[j]
        acc |= x | (x + _BAD_OFFSET)
    return acc


@njit(cache=True, inline="always")
def _indices_gt(x, lo, hi, th, out, q):
    """Append ``j`` in ``[lo, hi)`` with ``x[j] > th`` to ``out`` from ``q`` (ascending);
    returns the new ``q``. ``out`` needs room for ``q + (hi - lo) + 16``."""
    j = lo
    while j + _WI <= hi:
        q += _compress_idx_gt(x, j, th, out, q)
        j += _WI
    while j < hi:
        out[q] = j
        q += x[j] > th
        j += 1
    return q


@njit(cache=True)
def kth_largest(x: np.ndarray, n: int, k: int, s1: np.ndarray, s2: np.ndarray,
                s3: np.ndarray) -> float:
    """The ``k``-th largest of ``x[:n]`` (``1 <= k <= n``; ``x`` is not changed).

    Quickselect: median-of-3 pivot, three-way partitions (``> p`` and ``< p`` compressed
    into two of the scratch buffers ``s1, s2, s3``, each of length ``>= n + 8``)."""
    bufs = (s1, s2, s3)
    for t in range(n):
        s1[t] = x[t]
    cur, m = 0, n
    while m > 16:
        src = bufs[cur]
        gt, lt = bufs[(cur + 1) % 3], bufs[(cur + 2) % 3]
        a0, b0, c0 = src[0], src[m // 2], src[m - 1]
        p = max(min(a0, b0), min(max(a0, b0), c0))
        n_gt = 0
        n_lt = 0
        t = 0
        while t + _WV <= m:
            n_gt += _compress_val_gt(src, t, p, gt, n_gt)
            n_lt += _compress_val_lt(src, t, p, lt, n_lt)
            t += _WV
        while t < m:
            v = src[t]
            gt[n_gt] = v
            n_gt += v > p
            lt[n_lt] = v
            n_lt += v < p
            t += 1
        if k <= n_gt:
            cur, m = (cur + 1) % 3, n_gt
        elif k <= m - n_lt:
            return p
        else:
            k -= m - n_lt
            cur, m = (cur + 2) % 3, n_lt
    src = bufs[cur]
    for r in range(k):  # small: partial selection sort
        best = r
        for t in range(r + 1, m):
            if src[t] > src[best]:
                best = t
        v = src[r]
        src[r] = src[best]
        src[best] = v
    return src[k - 1]


@njit(cache=True)
def _threshold(g: np.ndarray, k: int, rho: float, w: np.ndarray, s1: np.ndarray,
               s2: np.ndarray, s3: np.ndarray) -> float:
    """``t0``: the incoming gain at pooled rank ``rho k`` per row of a few sampled rows
    (columns subsampled); -1 (keep every entry) when ``rho k >= n - 1``, inf when ``k = 0``."""
    n = g.shape[0]
    if k == 0:
        return np.inf
    if rho * k >= n - 1:
        return -1.0
    rows = min(_SAMPLE_ROWS, n)
    step = max(1, (n - 1) // _SAMPLE_COLS)
    m = 0
    for a in range(rows):
        i = (a * n) // rows
        for j in range(0, n, step):
            if j != i:
                w[m] = g[i, j]
                m += 1
    r = int(rho * k * m / (n - 1) + 0.5)
    return kth_largest(w, m, min(max(r, 1), m), s1, s2, s3)


@njit(cache=True, inline="always")
def _select_row(i, cand, sc, c, k, idx, pos, s1, s2, s3):
    """Positions ``pos[:k]`` (into ``cand``) of the ``k`` largest ``sc[:c]`` (ties at the
    ``k``-th score: the smaller indices ``cand``), and ``idx[i] = cand[pos]``."""
    v = kth_largest(sc, c, k, s1, s2, s3)
    w = 0
    m = 0
    while m + _WI <= c:
        w += _compress_idx_gt(sc, m, v, pos, w)
        m += _WI
    while m < c:
        pos[w] = m
        w += sc[m] > v
        m += 1
    n_tie = 0
    for m in range(c):  # ties at the k-th score, after the others
        pos[w + n_tie] = m
        n_tie += sc[m] == v
    if n_tie > k - w:  # more ties than places: the smaller indices (insertion sort)
        for a in range(w + 1, w + n_tie):
            m = pos[a]
            b = a
            while b > w and cand[pos[b - 1]] > cand[m]:
                pos[b] = pos[b - 1]
                b -= 1
            pos[b] = m
    for q in range(k):
        idx[i, q] = cand[pos[q]]


@njit(cache=True)
def _list_capacity(n: int, k: int, rho: float) -> int:
    """Entries of the compressed rows a layout of ``n`` links is expected to fit in."""
    return n * min(n - 1, int(2 * rho * k) + 8) + n + _WI + 8


@njit(cache=True)
def _sparse_layout(g, u, k, scale, floor, rho, idx, w_in, w_out, direct, col, val, tcol,
                   tval) -> bool:
    """The graph of one layout (module docstring), with the list buffers ``col, val, tcol,
    tval`` (reused across layouts; larger ones are made when a layout needs them); False
    when ``g`` holds a negative, infinite or NaN entry (the outputs are then undefined)."""
    n = g.shape[0]
    pad = _WI + 8
    sampled = min(_SAMPLE_ROWS, n) * (n // max(1, (n - 1) // _SAMPLE_COLS) + 1)
    w = np.empty(max(n, sampled) + pad)
    s1, s2, s3 = np.empty_like(w), np.empty_like(w), np.empty_like(w)
    t0 = _threshold(g, k, rho, w, s1, s2, s3)

    # 1. compressed rows: the j with g_ij > t0 (ascending) and their values; validity bits.
    # 2. after every block of rows, its transpose (for each column, the block's rows r with
    #    g_ri > t0, ascending, and g_ri) in the same index range: cache-resident writes
    cap = col.shape[0]
    if tcol.shape[0] < cap:
        tcol, tval = np.empty(cap, np.int32), np.empty(cap)
    n_blk = min(_MAX_ROW_BLOCKS, (n + _ROW_BLOCK - 1) // _ROW_BLOCK)
    rows_per_blk = (n + n_blk - 1) // n_blk
    off = np.zeros((n_blk, n + 1), np.int64)  # block b, column j: its entries from off[b, j]
    blk_start = np.empty(n_blk + 1, np.int64)
    fill = np.empty(n, np.int64)
    ptr = np.empty(n + 1, np.int64)
    bits = np.uint64(0)
    p = 0
    for i in range(n):
        if p + n + pad > cap:  # grow (rare: rows denser than 2 rho k)
            cap = 2 * cap
            col2, val2 = np.empty(cap, np.int32), np.empty(cap)
            tcol2, tval2 = np.empty(cap, np.int32), np.empty(cap)
            col2[:p] = col[:p]
            val2[:p] = val[:p]
            tcol2[:p] = tcol[:p]
            tval2[:p] = tval[:p]
            col, val, tcol, tval = col2, val2, tcol2, tval2
        ptr[i] = p
        row = g[i]
        bits |= _bad_bits(u[i])
        p = _indices_gt(row, 0, i, t0, col, p)
        p = _indices_gt(row, i + 1, n, t0, col, p)
        blk = i // rows_per_blk
        cnt = off[blk]
        for e in range(ptr[i], p):
            j = col[e]
            val[e] = row[j]
            cnt[j + 1] += 1
        direct[i] = np.float32(10.0 * np.log10(max(row[i] * scale, floor)))
        if i + 1 == min(n, (blk + 1) * rows_per_blk):  # block done: transpose it
            r0 = blk * rows_per_blk
            base = ptr[r0]
            blk_start[blk] = base
            for j in range(n):
                cnt[j + 1] += cnt[j]
                fill[j] = base + cnt[j]
            for r in range(r0, i + 1):
                for e in range(ptr[r], ptr[r + 1] if r < i else p):
                    j = col[e]
                    q = fill[j]
                    tcol[q] = r
                    tval[q] = val[e]
                    fill[j] = q + 1
    ptr[n] = p
    blk_start[n_blk] = p
    if bits >> _SIGN:
        return False
    if k == 0:
        return True

    # 3. per row: the union of both lists (a link's slot in it marked with the row), the k
    #    largest scores
    cand = np.empty(n + pad, np.int64)
    sa = np.empty(n + pad)   # g_ij of the candidate, -1: not above t0 (read when kept)
    sb = np.empty(n + pad)   # g_ji, likewise
    sc = np.empty(n + pad)   # max(g_ij, g_ji)
    pos = np.empty(n + pad, np.int32)
    slot = np.empty(n, np.int64)       # candidate slot of link j ...
    mark = np.full(n, -1, np.int64)    # ... valid when mark[j] == i
    fallback = np.empty(n, np.int64)
    n_fb = 0
    for i in range(n):
        c = 0
        for e in range(ptr[i], ptr[i + 1]):
            j = col[e]
            cand[c] = j
            sa[c] = val[e]
            sb[c] = -1.0
            slot[j] = c
            mark[j] = i
            c += 1
        for blk in range(n_blk):
            for e in range(blk_start[blk] + off[blk, i], blk_start[blk] + off[blk, i + 1]):
                j = tcol[e]
                if mark[j] == i:
                    sb[slot[j]] = tval[e]
                else:
                    cand[c] = j
                    sa[c] = -1.0
                    sb[c] = tval[e]
                    c += 1
        for m in range(c):
            sc[m] = max(sa[m], sb[m])
        if c < k:
            fallback[n_fb] = i
            n_fb += 1
            continue
        _select_row(i, cand, sc, c, k, idx, pos, s1, s2, s3)
        for q in range(k):
            m = pos[q]
            j = cand[m]
            a = sa[m] if sa[m] >= 0.0 else g[i, j]
            b = sb[m] if sb[m] >= 0.0 else g[j, i]
            w_in[i, q] = np.float32(max(a * scale, floor))
            w_out[i, q] = np.float32(max(b * scale, floor))

    # 4. rows with fewer than k candidates: whole row and column, a block per pass over g
    if n_fb:
        block = np.empty((min(_FALLBACK_BLOCK, n_fb), n))
        for f0 in range(0, n_fb, _FALLBACK_BLOCK):
            nb = min(_FALLBACK_BLOCK, n_fb - f0)
            for r in range(n):  # block[f, r] = g[r, i_f]
                for f in range(nb):
                    block[f, r] = g[r, fallback[f0 + f]]
            for f in range(nb):
                i = fallback[f0 + f]
                c = 0
                for j in range(n):
                    if j != i:
                        cand[c] = j
                        sc[c] = max(g[i, j], block[f, j])
                        c += 1
                _select_row(i, cand, sc, c, k, idx, pos, s1, s2, s3)
                for q in range(k):
                    j = idx[i, q]
                    w_in[i, q] = np.float32(max(g[i, j] * scale, floor))
                    w_out[i, q] = np.float32(max(block[f, j] * scale, floor))
    return True


@njit(cache=True, parallel=True)
def _sparse_graph(g, k, scale, floor, rho, idx, w_in, w_out, direct, ok, col, val, tcol,
                  tval) -> None:
    """:func:`_sparse_layout` on every layout of ``g : [batch, n, n]``, in parallel over
    ``chunks = len(col)`` chunks of layouts, chunk ``t`` with the list buffers ``col[t],
    val[t], tcol[t], tval[t]``."""
    u = g.view(np.uint64)
    batch = g.shape[0]
    chunks = col.shape[0]
    for t in prange(chunks):
        for b in range(t, batch, chunks):
            ok[b] = _sparse_layout(g[b], u[b], k, scale, floor, rho, idx[b], w_in[b],
                                   w_out[b], direct[b], col[t], val[t], tcol[t], tval[t])


_WORKSPACE = threading.local()
_WORKSPACE_MAX_BYTES = 256 * 2**20


def _list_buffers(chunks: int, cap: int) -> tuple[np.ndarray, ...]:
    """``col, val, tcol, tval : [chunks, cap]`` (int32, float64, int32, float64), kept per
    thread between calls up to 256 MiB (fresh pages cost as much as the scan)."""
    key = (chunks, cap)
    if getattr(_WORKSPACE, "key", None) == key:
        return _WORKSPACE.buffers
    buffers = (np.empty(key, np.int32), np.empty(key), np.empty(key, np.int32), np.empty(key))
    if chunks * cap * 24 <= _WORKSPACE_MAX_BYTES:
        _WORKSPACE.key, _WORKSPACE.buffers = key, buffers
    return buffers


def sparse_graph(g: np.ndarray, k: int, scale: float, floor: float, rho: float,
                 threads: int) -> tuple[np.ndarray, ...]:
    """The sparse graph of every layout of ``g : [batch, n, n]`` float64 C-contiguous
    (``0 <= k <= n - 2``), ``threads`` Numba threads (chunks of layouts in parallel).

    Output
    ------
    idx : [batch, n, k], int64, the neighbours of every link
    w_in, w_out : [batch, n, k], float32, ``max(g_ij scale, floor)`` and
        ``max(g_ji scale, floor)`` of the neighbours ``j = idx[b, i]``
    direct : [batch, n], float32, ``10 log10(max(g_ii scale, floor))``
    ok : [batch], bool, False for a layout with a negative, infinite or NaN entry (its
        other outputs are then undefined)
    """
    batch, n = g.shape[0], g.shape[1]
    idx = np.empty((batch, n, k), dtype=np.int64)
    w_in = np.empty((batch, n, k), dtype=np.float32)
    w_out = np.empty((batch, n, k), dtype=np.float32)
    direct = np.empty((batch, n), dtype=np.float32)
    ok = np.empty(batch, dtype=np.bool_)
    if batch:
        buffers = _list_buffers(max(1, min(threads, batch)), _list_capacity(n, k, rho))
        _sparse_graph(g, k, scale, floor, rho, idx, w_in, w_out, direct, ok, *buffers)
    return idx, w_in, w_out, direct, ok


def dense_graph(g: np.ndarray, scale: float, floor: float) -> tuple[np.ndarray, ...]:
    """Every edge of every layout of ``g : [batch, n, n]`` float64 C-contiguous: ``gain :
    [batch, n, n]`` float32, ``max(g_ij scale, floor)`` with a zero diagonal, and ``direct,
    ok`` as in :func:`sparse_graph`."""
    batch, n = g.shape[0], g.shape[1]
    gain = np.empty((batch, n, n), dtype=np.float32)
    direct = np.empty((batch, n), dtype=np.float32)
    ok = np.empty(batch, dtype=np.bool_)
    _dense_graph(g, scale, floor, gain, direct, ok)
    return gain, direct, ok


@njit(cache=True, parallel=True)
def _dense_graph(g, scale, floor, gain, direct, ok) -> None:
    """:func:`dense_graph` into the given arrays, in parallel over the layouts."""
    u = g.view(np.uint64)
    n = g.shape[1]
    for b in prange(g.shape[0]):
        bits = np.uint64(0)
        for i in range(n):
            bits |= _bad_bits(u[b, i])
            for j in range(n):
                gain[b, i, j] = np.float32(max(g[b, i, j] * scale, floor))
            gain[b, i, i] = 0.0
            direct[b, i] = np.float32(10.0 * np.log10(max(g[b, i, i] * scale, floor)))
        ok[b] = not (bits >> _SIGN)
