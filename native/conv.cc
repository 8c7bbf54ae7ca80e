// Convolution lowered to GEMM, for 1-, 2- and 3-D (size-1 spatial dims).
//
//   forward:          col = im2col(x_n)                 col: [C*kvol, P]   (P = OD*OH*OW)
//                     y_n[g] = W[g] · col[g] + bias     W[g]: [Cout/G, C/G*kvol]
//   backward input:   dcol[g] = W[g]^T · gy_n[g];  gx_n = col2im(dcol)
//   backward weight:  gW[g] += gy_n[g] · col[g]^T   (summed over the batch)
//   backward bias:    gb[c] = sum over n, p of gy[n, c, p]
//
// The lowering is batched: a tile of b samples is lowered side by side into one
// col workspace [C*kvol, b*P], so each GEMM is b times wider, and the tile size
// keeps the workspace near kTileFloats whatever the batch size. Outputs and
// output gradients are moved between [b, Cout, P] and the GEMM's [Cout, b*P]
// with row copies.
// A 1x1, stride-1, unpadded convolution skips the lowering: x_n is already col.
// Threads: with N >= 2 the batch is split over the pool and each worker runs
// single-threaded sgemm on its own tiles (workspaces from the pooled
// allocator); with N == 1 the GEMM itself is split (see gemm()).
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "kernels.h"

namespace blasnet {
namespace {

// Floats of im2col workspace a tile aims for (128 KiB): small enough that the
// lowered tile is still in L2 when sgemm reads it (measured: 4 MiB tiles ran
// LeNet 20-30% slower than tiles of one or two samples).
constexpr int64_t kTileFloats = 1 << 15;

// Tiles of the batch: up to kTileSamples samples, fewer when a tile's workspace
// would pass kTileFloats. Tiles depend only on the shape — not on the thread
// count or on which thread runs them — so results are bitwise the same with 1
// or 8 threads, sync or async. The cap keeps tiny layers from making tiles
// of a whole batch.
constexpr int64_t kTileSamples = 16;
struct Tiling {
  int64_t size, count;
};
Tiling tiling(const ConvGeom& g) {
  const int64_t per = std::max<int64_t>(1, g.C * g.kvol() * g.out_plane());
  const int64_t size = g.pointwise() ? 1 : std::clamp<int64_t>(kTileFloats / per, 1, kTileSamples);
  return {size, (g.N + size - 1) / size};
}

// The output columns ow in [lo, hi) whose input column ow*stride + ix0 lies in [0, W).
struct Span {
  int64_t lo, hi;
};
inline Span inside(int64_t ix0, int64_t stride, int64_t W, int64_t OW) {
  const int64_t lo = ix0 >= 0 ? 0 : (-ix0 + stride - 1) / stride;
  const int64_t hi = W - ix0 <= 0 ? 0 : (W - ix0 + stride - 1) / stride;
  return {std::min(lo, OW), std::clamp<int64_t>(hi, std::min(lo, OW), OW)};
}

// col[(c, kz, ky, kx), (od, oh, ow)] = x[c, od*sd - pd + kz*dd, oh*sh - ph + ky*dh, ow*sw - pw + kx*dw]
// Rows of col are `ld` floats apart (ld = b*P when b samples share a tile).
void im2col(const ConvGeom& g, const float* x, float* col, int64_t ld) {
  const int64_t OHW = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          float* dst = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * ld;
          const int64_t ix0 = kx * g.dw - g.pw;
          const Span sp = inside(ix0, g.sw, g.W, g.OW);
          for (int64_t od = 0; od < g.OD; od++) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd;
            float* drow = dst + od * OHW;
            if (iz < 0 || iz >= g.D) {
              std::fill(drow, drow + OHW, 0.f);
              continue;
            }
            for (int64_t oh = 0; oh < g.OH; oh++) {
              const int64_t iy = oh * g.sh - g.ph + ky * g.dh;
              float* d = drow + oh * g.OW;
              if (iy < 0 || iy >= g.H) {
                std::fill(d, d + g.OW, 0.f);
                continue;
              }
              // plain loops, not memcpy: rows are a few dozen floats, where a call costs more than the copy
              const float* src = x + ((c * g.D + iz) * g.H + iy) * g.W + ix0;
              for (int64_t ow = 0; ow < sp.lo; ow++) d[ow] = 0.f;
              if (g.sw == 1)
                for (int64_t ow = sp.lo; ow < sp.hi; ow++) d[ow] = src[ow];
              else
                for (int64_t ow = sp.lo; ow < sp.hi; ow++) d[ow] = src[ow * g.sw];
              for (int64_t ow = sp.hi; ow < g.OW; ow++) d[ow] = 0.f;
            }
          }
        }
}

// gx (zeroed here) = col2im(col): the adjoint of im2col.
void col2im(const ConvGeom& g, const float* col, int64_t ld, float* gx) {
  const int64_t OHW = g.OH * g.OW;
  std::memset(gx, 0, g.C * g.in_plane() * sizeof(float));
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          const float* srcp = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * ld;
          const int64_t ix0 = kx * g.dw - g.pw;
          const Span sp = inside(ix0, g.sw, g.W, g.OW);
          for (int64_t od = 0; od < g.OD; od++) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd;
            if (iz < 0 || iz >= g.D) continue;
            for (int64_t oh = 0; oh < g.OH; oh++) {
              const int64_t iy = oh * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.H) continue;
              const float* s = srcp + od * OHW + oh * g.OW;
              float* dst = gx + ((c * g.D + iz) * g.H + iy) * g.W + ix0;
              if (g.sw == 1)
                for (int64_t ow = sp.lo; ow < sp.hi; ow++) dst[ow] += s[ow];
              else
                for (int64_t ow = sp.lo; ow < sp.hi; ow++) dst[ow * g.sw] += s[ow];
            }
          }
        }
}

// Runs body(tile index, first sample, samples) for every tile, across workers when N >= 2.
template <typename F>
void over_tiles(const ConvGeom& g, const Tiling& t, F&& body) {
  auto run = [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++) body(k, k * t.size, std::min(t.size, g.N - k * t.size));
  };
  if (g.N >= 2 && num_threads() > 1)
    parallel_for(t.count, 1, run);
  else
    run(0, t.count);
}

}  // namespace

void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu) {
  if (direct::forward(g, x, w, bias, y, relu)) return;  // small channel counts: conv_direct.cc
  const int64_t G = g.groups, Mg = g.Cout / G, Kg = g.C / G * g.kvol(), P = g.out_plane();
  const bool direct = g.pointwise();
  const bool lone = !(g.N >= 2 && num_threads() > 1);  // let gemm split when the batch cannot be
  const Tiling t = tiling(g);
  over_tiles(g, t, [&](int64_t, int64_t t0, int64_t b) {
    const int64_t L = b * P;
    Scratch col(direct ? 0 : static_cast<size_t>(g.C * g.kvol() * L));
    Scratch tile(b > 1 ? static_cast<size_t>(g.Cout * L) : 0);
    const float* cn = x + t0 * g.C * g.in_plane();  // direct: the input is the col matrix
    if (!direct) {
      for (int64_t i = 0; i < b; i++) im2col(g, x + (t0 + i) * g.C * g.in_plane(), col.p + i * P, L);
      cn = col.p;
    }
    float* yt = b > 1 ? tile.p : y + t0 * g.Cout * P;  // [Cout, b*P]
    if (bias)
      for (int64_t c = 0; c < g.Cout; c++) std::fill(yt + c * L, yt + (c + 1) * L, bias[c]);
    for (int64_t gi = 0; gi < G; gi++)
      gemm(false, false, Mg, L, Kg, 1.f, w + gi * Mg * Kg, Kg, cn + gi * Kg * L, L, bias ? 1.f : 0.f, yt + gi * Mg * L, L, lone);
    if (b > 1)  // [Cout, b, P] → [b, Cout, P]
      for (int64_t i = 0; i < b; i++)
        for (int64_t c = 0; c < g.Cout; c++) std::memcpy(y + ((t0 + i) * g.Cout + c) * P, yt + c * L + i * P, P * sizeof(float));
    if (relu) {
      float* yo = y + t0 * g.Cout * P;
      for (int64_t i = 0; i < b * g.Cout * P; i++) yo[i] = yo[i] > 0.f ? yo[i] : 0.f;
    }
  });
}

void conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
  if (direct::backward(g, x, w, gy, gx, gw, gb)) return;  // small channel counts: conv_direct.cc
  const int64_t G = g.groups, Mg = g.Cout / G, Kg = g.C / G * g.kvol(), P = g.out_plane();
  const bool direct = g.pointwise();
  const bool lone = !(g.N >= 2 && num_threads() > 1);
  const int64_t wsize = g.Cout * Kg;

  if (gb) {
    for (int64_t c = 0; c < g.Cout; c++) {
      double acc = 0.0;
      for (int64_t n = 0; n < g.N; n++) {
        const float* p = gy + (n * g.Cout + c) * P;
        float s = 0.f;
        for (int64_t i = 0; i < P; i++) s += p[i];
        acc += s;
      }
      gb[c] = static_cast<float>(acc);
    }
  }
  if (!gx && !gw) return;

  // Each tile after the first accumulates its own weight gradient; they are
  // summed in tile order afterwards, so the result does not depend on timing.
  const Tiling t = tiling(g);
  std::vector<float*> partials(gw ? t.count : 0, nullptr);
  if (gw) std::memset(gw, 0, wsize * sizeof(float));
  try {
    over_tiles(g, t, [&](int64_t k, int64_t t0, int64_t b) {
      const int64_t L = b * P;
      Scratch col(gw && !direct ? static_cast<size_t>(g.C * g.kvol() * L) : 0);
      Scratch dcol(gx && !direct ? static_cast<size_t>(g.C * g.kvol() * L) : 0);
      Scratch tile(b > 1 ? static_cast<size_t>(g.Cout * L) : 0);
      // the output gradient of the tile as [Cout, b*P]
      const float* gyt = gy + t0 * g.Cout * P;
      if (b > 1) {
        for (int64_t i = 0; i < b; i++)
          for (int64_t c = 0; c < g.Cout; c++) std::memcpy(tile.p + c * L + i * P, gy + ((t0 + i) * g.Cout + c) * P, P * sizeof(float));
        gyt = tile.p;
      }
      if (gw) {
        float* gwp = gw;
        if (k > 0) {
          gwp = partials[k] = pool_alloc(wsize);
          std::memset(gwp, 0, wsize * sizeof(float));
        }
        const float* cn = x + t0 * g.C * g.in_plane();
        if (!direct) {
          for (int64_t i = 0; i < b; i++) im2col(g, x + (t0 + i) * g.C * g.in_plane(), col.p + i * P, L);
          cn = col.p;
        }
        for (int64_t gi = 0; gi < G; gi++)
          gemm(false, true, Mg, Kg, L, 1.f, gyt + gi * Mg * L, L, cn + gi * Kg * L, L, 1.f, gwp + gi * Mg * Kg, Kg, lone);
      }
      if (gx) {
        float* dst = direct ? gx + t0 * g.C * g.in_plane() : dcol.p;
        for (int64_t gi = 0; gi < G; gi++)
          gemm(true, false, Kg, L, Mg, 1.f, w + gi * Mg * Kg, Kg, gyt + gi * Mg * L, L, 0.f, dst + gi * Kg * L, L, lone);
        if (!direct)
          for (int64_t i = 0; i < b; i++) col2im(g, dcol.p + i * P, L, gx + (t0 + i) * g.C * g.in_plane());
      }
    });
  } catch (...) {
    for (float* p : partials)
      if (p) pool_free(p, wsize);
    throw;
  }
  for (float* p : partials) {
    if (!p) continue;
    for (int64_t i = 0; i < wsize; i++) gw[i] += p[i];
    pool_free(p, wsize);
  }
}

}  // namespace blasnet
