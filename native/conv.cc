// Convolution lowered to GEMM, for 1-, 2- and 3-D (size-1 spatial dims).
//
//   forward:          col = im2col(x_n)                 col: [C*kvol, P]   (P = OD*OH*OW)
//                     y_n[g] = W[g] · col[g] + bias     W[g]: [Cout/G, C/G*kvol]
//   backward input:   dcol[g] = W[g]^T · gy_n[g];  gx_n = col2im(dcol)
//   backward weight:  gW[g] += gy_n[g] · col[g]^T   (summed over the batch)
//   backward bias:    gb[c] = sum over n, p of gy[n, c, p]
//
// A 1x1, stride-1, unpadded convolution skips the lowering: x_n is already col.
// Threads: with N >= 2 the batch is split over the pool and each worker runs
// single-threaded sgemm on its own col workspace (one sample's worth, from the
// pooled allocator); with N == 1 the GEMM itself is split (see gemm()).
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "kernels.h"

namespace blasnet {
namespace {

// col[(c, kz, ky, kx), (od, oh, ow)] = x[c, od*sd - pd + kz*dd, oh*sh - ph + ky*dh, ow*sw - pw + kx*dw]
void im2col(const ConvGeom& g, const float* x, float* col) {
  const int64_t P = g.out_plane(), OHW = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          float* dst = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * P;
          const int64_t ix0 = kx * g.dw - g.pw;
          // ow range whose input column lies inside [0, W)
          int64_t lo = 0, hi = g.OW;
          if (g.sw == 1) {
            lo = std::clamp<int64_t>(-ix0, 0, g.OW);
            hi = std::clamp<int64_t>(g.W - ix0, lo, g.OW);
          }
          for (int64_t od = 0; od < g.OD; od++) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd;
            float* drow = dst + od * OHW;
            if (iz < 0 || iz >= g.D) {
              std::memset(drow, 0, OHW * sizeof(float));
              continue;
            }
            for (int64_t oh = 0; oh < g.OH; oh++) {
              const int64_t iy = oh * g.sh - g.ph + ky * g.dh;
              float* d = drow + oh * g.OW;
              if (iy < 0 || iy >= g.H) {
                std::memset(d, 0, g.OW * sizeof(float));
                continue;
              }
              const float* src = x + ((c * g.D + iz) * g.H + iy) * g.W;
              if (g.sw == 1) {
                std::fill(d, d + lo, 0.f);
                std::memcpy(d + lo, src + lo + ix0, (hi - lo) * sizeof(float));
                std::fill(d + hi, d + g.OW, 0.f);
              } else {
                for (int64_t ow = 0; ow < g.OW; ow++) {
                  const int64_t ix = ow * g.sw + ix0;
                  d[ow] = (ix >= 0 && ix < g.W) ? src[ix] : 0.f;
                }
              }
            }
          }
        }
}

// gx (zeroed here) = col2im(col): the adjoint of im2col.
void col2im(const ConvGeom& g, const float* col, float* gx) {
  const int64_t P = g.out_plane(), OHW = g.OH * g.OW;
  std::memset(gx, 0, g.C * g.in_plane() * sizeof(float));
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          const float* srcp = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * P;
          const int64_t ix0 = kx * g.dw - g.pw;
          for (int64_t od = 0; od < g.OD; od++) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd;
            if (iz < 0 || iz >= g.D) continue;
            for (int64_t oh = 0; oh < g.OH; oh++) {
              const int64_t iy = oh * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.H) continue;
              const float* s = srcp + od * OHW + oh * g.OW;
              float* dst = gx + ((c * g.D + iz) * g.H + iy) * g.W;
              for (int64_t ow = 0; ow < g.OW; ow++) {
                const int64_t ix = ow * g.sw + ix0;
                if (ix >= 0 && ix < g.W) dst[ix] += s[ow];
              }
            }
          }
        }
}

// Runs body(n0, n1) over the batch: split across workers when N >= 2.
template <typename F>
void over_batch(const ConvGeom& g, F&& body) {
  if (g.N >= 2 && num_threads() > 1)
    parallel_for(g.N, 1, body);
  else
    body(0, g.N);
}

}  // namespace

void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu) {
  const int64_t G = g.groups, Mg = g.Cout / G, Kg = g.C / G * g.kvol(), P = g.out_plane();
  const bool direct = g.pointwise();
  const bool lone = !(g.N >= 2 && num_threads() > 1);  // let gemm split when the batch cannot be
  over_batch(g, [&](int64_t n0, int64_t n1) {
    Scratch col(direct ? 0 : static_cast<size_t>(g.C * g.kvol() * P));
    for (int64_t n = n0; n < n1; n++) {
      const float* xn = x + n * g.C * g.in_plane();
      float* yn = y + n * g.Cout * P;
      const float* cn = xn;
      if (!direct) {
        im2col(g, xn, col.p);
        cn = col.p;
      }
      if (bias)
        for (int64_t c = 0; c < g.Cout; c++) std::fill(yn + c * P, yn + (c + 1) * P, bias[c]);
      for (int64_t gi = 0; gi < G; gi++)
        gemm(false, false, Mg, P, Kg, 1.f, w + gi * Mg * Kg, Kg, cn + gi * Kg * P, P, bias ? 1.f : 0.f,
             yn + gi * Mg * P, P, lone);
      if (relu)
        for (int64_t i = 0; i < g.Cout * P; i++) yn[i] = yn[i] > 0.f ? yn[i] : 0.f;
    }
  });
}

void conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
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

  // Each chunk of the batch accumulates its own weight gradient; the partials
  // are summed in batch order afterwards so results do not depend on timing.
  std::mutex mu;
  std::map<int64_t, float*> partials;
  if (gw) std::memset(gw, 0, wsize * sizeof(float));

  over_batch(g, [&](int64_t n0, int64_t n1) {
    Scratch col(gw && !direct ? static_cast<size_t>(g.C * g.kvol() * P) : 0);
    Scratch dcol(gx && !direct ? static_cast<size_t>(g.C * g.kvol() * P) : 0);
    const bool own = gw && n0 != 0;  // the first chunk writes gw itself
    float* gwp = gw;
    if (own) {
      gwp = pool_alloc(wsize);
      std::memset(gwp, 0, wsize * sizeof(float));
    }
    for (int64_t n = n0; n < n1; n++) {
      const float* xn = x + n * g.C * g.in_plane();
      const float* gyn = gy + n * g.Cout * P;
      if (gw) {
        const float* cn = xn;
        if (!direct) {
          im2col(g, xn, col.p);
          cn = col.p;
        }
        for (int64_t gi = 0; gi < G; gi++)
          gemm(false, true, Mg, Kg, P, 1.f, gyn + gi * Mg * P, P, cn + gi * Kg * P, P, 1.f, gwp + gi * Mg * Kg, Kg, lone);
      }
      if (gx) {
        float* gxn = gx + n * g.C * g.in_plane();
        float* dst = direct ? gxn : dcol.p;
        for (int64_t gi = 0; gi < G; gi++)
          gemm(true, false, Kg, P, Mg, 1.f, w + gi * Mg * Kg, Kg, gyn + gi * Mg * P, P, 0.f, dst + gi * Kg * P, P, lone);
        if (!direct) col2im(g, dcol.p, gxn);
      }
    }
    if (own) {
      std::lock_guard<std::mutex> lk(mu);
      partials[n0] = gwp;
    }
  });
  for (auto& kv : partials) {
    for (int64_t i = 0; i < wsize; i++) gw[i] += kv.second[i];
    pool_free(kv.second, wsize);
  }
}

}  // namespace blasnet
