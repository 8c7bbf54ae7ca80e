// Indexing and joining: one general strided gather (and its adjoint, a
// strided scatter) that every indexing op lowers to — select, narrow, slice
// with step, cat / split pieces, index_select, advanced indexing with index
// tensors, gather — plus the ternary where.
//
// An IndexSpec describes out[i] (i a multi-index over spec.shape) as
//   x[offset + sum_j i_j * xstride[j] + sum_k idx_k.xstride * idx_k(i)]
// where idx_k(i) is index tensor k read at sum_j i_j * idx_k.stride[j]
// (0 strides broadcast), negative values counting from the end when wrap.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"

namespace blasnet {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk

inline int64_t index_value(const IndexSpec::Index& ix, int64_t pos) {
  int64_t v = static_cast<int64_t>(ix.data[pos]);
  return v < 0 ? v + ix.size : v;
}

// Walks the rows (all dims but the last) of spec.shape in [r0, r1), calling
// row(r, x_offset, idx_offsets) with the row's base offsets.
template <typename F>
void for_rows(const IndexSpec& s, int64_t r0, int64_t r1, F&& row) {
  const int nd = static_cast<int>(s.shape.size());
  const size_t K = s.idx.size();
  std::vector<int64_t> ioff(K);
  for (int64_t r = r0; r < r1; r++) {
    int64_t rem = r, off = s.offset;
    std::fill(ioff.begin(), ioff.end(), 0);
    for (int d = nd - 2; d >= 0; d--) {
      const int64_t i = rem % s.shape[d];
      rem /= s.shape[d];
      off += i * s.xstride[d];
      for (size_t k = 0; k < K; k++) ioff[k] += i * s.idx[k].stride[d];
    }
    row(r, off, ioff);
  }
}

}  // namespace

int64_t index_check(const float* idx, int64_t n, int64_t size, bool wrap) {
  const float lo = wrap ? -static_cast<float>(size) : 0.f, hi = static_cast<float>(size);
  for (int64_t i = 0; i < n; i++) {
    const float v = idx[i];
    if (!(v >= lo && v < hi)) return i;  // NaN fails here too
    // in range, so the truncation is exact: an integer survives the round trip (no libm floor call)
    if (static_cast<float>(static_cast<int64_t>(v)) != v) return i;
  }
  return -1;
}

void index_gather(const float* x, float* out, const IndexSpec& s) {
  const int nd = static_cast<int>(s.shape.size());
  int64_t n = 1;
  for (auto d : s.shape) n *= d;
  if (n == 0) return;
  if (nd == 0) {  // one element
    int64_t off = s.offset;
    for (const auto& ix : s.idx) off += ix.xstride * index_value(ix, 0);
    out[0] = x[off];
    return;
  }
  const int64_t inner = s.shape[nd - 1], xs = s.xstride[nd - 1];
  bool plain_inner = true;  // no index tensor varies along the last dim
  for (const auto& ix : s.idx)
    if (ix.stride[nd - 1] != 0) plain_inner = false;
  const int64_t rows = n / inner;
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
    for_rows(s, r0, r1, [&](int64_t r, int64_t off, const std::vector<int64_t>& ioff) {
      float* o = out + r * inner;
      if (plain_inner) {
        for (size_t k = 0; k < s.idx.size(); k++) off += s.idx[k].xstride * index_value(s.idx[k], ioff[k]);
        if (xs == 1)
          std::memcpy(o, x + off, inner * sizeof(float));
        else
          for (int64_t i = 0; i < inner; i++) o[i] = x[off + i * xs];
      } else if (s.idx.size() == 1) {  // one index tensor (gather, index_select, x[idx]): its fields in registers
        const IndexSpec::Index& ix = s.idx[0];
        const float* id = ix.data + ioff[0];
        const int64_t st = ix.stride[nd - 1], ixs = ix.xstride, size = ix.size;
        for (int64_t i = 0; i < inner; i++) {
          int64_t v = static_cast<int64_t>(id[i * st]);
          v += v < 0 ? size : 0;
          o[i] = x[off + i * xs + v * ixs];
        }
      } else {
        for (int64_t i = 0; i < inner; i++) {
          int64_t e = off + i * xs;
          for (size_t k = 0; k < s.idx.size(); k++) e += s.idx[k].xstride * index_value(s.idx[k], ioff[k] + i * s.idx[k].stride[nd - 1]);
          o[i] = x[e];
        }
      }
    });
  });
}

void index_scatter(float* dst, const float* src, const IndexSpec& s, bool accumulate) {
  const int nd = static_cast<int>(s.shape.size());
  int64_t n = 1;
  for (auto d : s.shape) n *= d;
  if (n == 0) return;
  if (nd == 0) {
    int64_t off = s.offset;
    for (const auto& ix : s.idx) off += ix.xstride * index_value(ix, 0);
    dst[off] = accumulate ? dst[off] + src[0] : src[0];
    return;
  }
  const int64_t inner = s.shape[nd - 1], xs = s.xstride[nd - 1];
  const int64_t rows = n / inner;
  auto body = [&](int64_t r0, int64_t r1) {
    for_rows(s, r0, r1, [&](int64_t r, int64_t off, const std::vector<int64_t>& ioff) {
      const float* g = src + r * inner;
      if (s.idx.empty() && xs == 1) {  // a contiguous run (cat, narrow and split backward)
        float* d = dst + off;
        if (accumulate)
          for (int64_t i = 0; i < inner; i++) d[i] += g[i];
        else
          std::memcpy(d, g, inner * sizeof(float));
        return;
      }
      if (s.idx.size() == 1) {
        const IndexSpec::Index& ix = s.idx[0];
        const float* id = ix.data + ioff[0];
        const int64_t st = ix.stride[nd - 1], ixs = ix.xstride, size = ix.size;
        for (int64_t i = 0; i < inner; i++) {
          int64_t v = static_cast<int64_t>(id[i * st]);
          v += v < 0 ? size : 0;
          const int64_t e = off + i * xs + v * ixs;
          dst[e] = accumulate ? dst[e] + g[i] : g[i];
        }
        return;
      }
      for (int64_t i = 0; i < inner; i++) {
        int64_t e = off + i * xs;
        for (size_t k = 0; k < s.idx.size(); k++) e += s.idx[k].xstride * index_value(s.idx[k], ioff[k] + i * s.idx[k].stride[nd - 1]);
        dst[e] = accumulate ? dst[e] + g[i] : g[i];
      }
    });
  };
  // Without index tensors the positions are distinct (positive strides over
  // distinct multi-indices), so rows may run in parallel; repeated indices
  // would race, so index tensors scatter serially.
  if (s.idx.empty())
    parallel_for(rows, std::max<int64_t>(1, kGrain / inner), body);
  else
    body(0, rows);
}

void where_forward(const float* c, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
                   const std::vector<int64_t>& cs, const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
  const int nd = static_cast<int>(shape.size());
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n == 0) return;
  if (nd == 0) {
    out[0] = c[0] != 0.f ? a[0] : b[0];
    return;
  }
  // Operands that are each contiguous or a scalar over the whole shape run as one flat row.
  auto flat = [&](const std::vector<int64_t>& st) -> int {  // 1: contiguous, 0: scalar, -1: neither
    bool contig = true, scalar = true;
    int64_t expect = 1;
    for (int d = nd - 1; d >= 0; d--) {
      if (shape[d] != 1) {
        if (st[d] != expect) contig = false;
        if (st[d] != 0) scalar = false;
      }
      expect *= shape[d];
    }
    return contig ? 1 : scalar ? 0 : -1;
  };
  const int fc = flat(cs), fa = flat(as), fb = flat(bs);
  if (fc == 1 && fa >= 0 && fb >= 0) {
    const float av = a[0], bv = b[0];
    parallel_for(n, kGrain, [&](int64_t s0, int64_t s1) {
      if (fa == 1 && fb == 1)
        for (int64_t i = s0; i < s1; i++) {
          const float x = a[i], y = b[i];  // both loaded: a branch-free blend
          out[i] = c[i] != 0.f ? x : y;
        }
      else if (fa == 1)
        for (int64_t i = s0; i < s1; i++) {
          const float x = a[i];
          out[i] = c[i] != 0.f ? x : bv;
        }
      else if (fb == 1)
        for (int64_t i = s0; i < s1; i++) {
          const float y = b[i];
          out[i] = c[i] != 0.f ? av : y;
        }
      else
        for (int64_t i = s0; i < s1; i++) out[i] = c[i] != 0.f ? av : bv;
    });
    return;
  }
  const int64_t inner = shape[nd - 1];
  const int64_t ci = cs[nd - 1], ai = as[nd - 1], bi = bs[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t rem = r, co = 0, ao = 0, bo = 0;
      for (int d = nd - 2; d >= 0; d--) {
        const int64_t i = rem % shape[d];
        rem /= shape[d];
        co += i * cs[d];
        ao += i * as[d];
        bo += i * bs[d];
      }
      float* o = out + r * inner;
      const float *cp = c + co, *ap = a + ao, *bp = b + bo;
      if (ci == 1 && ai == 1 && bi == 1)  // the common case: a branch-free select the compiler vectorises
        for (int64_t i = 0; i < inner; i++) {
          const float x = ap[i], y = bp[i];
          o[i] = cp[i] != 0.f ? x : y;
        }
      else if (ci == 0 && ai == 1 && bi == 1)
        std::memcpy(o, cp[0] != 0.f ? ap : bp, inner * sizeof(float));
      else if (ci == 1 && ai == 1 && bi == 0) {
        const float bv = bp[0];
        for (int64_t i = 0; i < inner; i++) {
          const float x = ap[i];
          o[i] = cp[i] != 0.f ? x : bv;
        }
      } else if (ci == 1 && ai == 0 && bi == 1) {
        const float av = ap[0];
        for (int64_t i = 0; i < inner; i++) {
          const float y = bp[i];
          o[i] = cp[i] != 0.f ? av : y;
        }
      } else
        for (int64_t i = 0; i < inner; i++) o[i] = cp[i * ci] != 0.f ? ap[i * ai] : bp[i * bi];
    }
  });
}

}  // namespace blasnet
