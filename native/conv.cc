// Convolution lowered to GEMM, for 1-, 2- and 3-D (size-1 spatial dims).
//
//   forward:          col = im2col(x_n)                 col: [C*kvol, P]   (P = OD*OH*OW)
//                     y_n[g] = W[g] · col[g] + bias     W[g]: [Cout/G, C/G*kvol]
//   backward input:   dcol[g] = W[g]^T · gy_n[g];  gx_n = col2im(dcol)
//   backward weight:  gW[g] += gy_n[g] · col[g]^T   (summed over the batch)
//   backward bias:    gb[c] = sum over n, p of gy[n, c, p]
//
// Bounded workspace: the lowering is tiled over the batch AND over space. A
// tile is either b whole samples lowered side by side into one col [C*kvol, b*P]
// (small samples: each GEMM is b times wider), or a range of output rows of one
// sample — a "row" is one (od, oh) pair, OW outputs — whose col [C*kvol, rows*OW]
// is a column block of the sample's col. A row tile reads and writes y_n, gy_n in
// place (ld = P): no tile copies. Tiles are sized so that every tile in flight
// together stays under the workspace limit (conv_workspace_limit(), 64 MB by
// default), whatever the image size; the floor is one output row's lowering.
//   forward:      each tile independent.
//   grad weight:  tiles are dealt into at most kAccGroups contiguous groups;
//                 each group accumulates its tiles in order into its own partial
//                 (GEMM beta = 1), the partials are summed in group order.
//   grad input:   gx is zeroed once; each tile's col2im adds into the input rows
//                 its output rows touch. Neighbouring row tiles overlap there, so
//                 tiles run in phases: tile r in phase r mod m, where m is the
//                 smallest stride such that tiles r and r+m touch disjoint rows.
// Tiles, groups and phases depend only on the shape and the limit, never on the
// thread count, so results are bitwise the same with 1 or 8 threads, sync or
// async. Threads only change how many tiles run at once (capped so the tiles in
// flight fit the limit); with one tile in flight, sgemm itself is split (gemm()).
// A 1x1, stride-1, unpadded convolution skips the lowering: x_n is already col.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "conv_direct.h"
#include "kernels.h"

namespace blasnet {

namespace {
std::atomic<size_t> g_workspace_limit{size_t(64) << 20};
}  // namespace

void set_conv_workspace_limit(size_t bytes) { g_workspace_limit.store(bytes); }
size_t conv_workspace_limit() { return g_workspace_limit.load(); }

namespace {
std::atomic<int> g_winograd{1};
}  // namespace
void set_conv_winograd(int mode) { g_winograd.store(mode); }
int conv_winograd() { return g_winograd.load(); }
// Auto: layers with enough channels that the 16 GEMMs [Cout, C]·[C, tiles] stay
// efficient (ResNet-style 3x3 layers); small-channel layers keep the lowering.
bool conv_uses_winograd(const ConvGeom& g) {
  const int mode = g_winograd.load();
  if (mode == 0 || !winograd_applies(g)) return false;
  return mode == 2 || (g.C >= 16 && g.Cout >= 16 && g.OH * g.OW >= 64);
}

namespace {

// Floats of im2col workspace a batch tile aims for (128 KiB): small enough that
// the lowered tile is still in L2 when sgemm reads it (measured: 4 MiB tiles ran
// LeNet 20-30% slower than tiles of one or two samples).
constexpr int64_t kTileFloats = 1 << 15;
// A batch tile holds at most this many samples (keeps tiny layers from making
// tiles of a whole batch).
constexpr int64_t kTileSamples = 16;
// A sample whose lowering is at most this many floats is one tile (the GEMM is
// widest); larger ones are split into row tiles of about kRowTileFloats.
constexpr int64_t kSampleFloats = 1 << 21;   // 8 MiB
constexpr int64_t kRowTileFloats = 1 << 17;  // 512 KiB
// Weight-gradient partials: at most this many groups of tiles.
constexpr int64_t kAccGroups = 8;

struct Tiling {
  int64_t bsz;   // samples per tile (> 1 only with whole-sample tiles)
  int64_t rows;  // output rows (od, oh) per tile
  int64_t R;     // output rows per sample: OD*OH
  int64_t nb, nr;  // batch tiles, row tiles per sample
  int64_t ws;    // workspace floats of one tile (col + tile copy)
  int64_t count() const { return nb * nr; }
};

Tiling tiling(const ConvGeom& g) {
  const int64_t R = g.OD * g.OH, P = g.out_plane();
  const int64_t K = g.pointwise() ? 0 : g.C * g.kvol();  // col rows (0: no lowering)
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(conv_workspace_limit() / sizeof(float)));
  Tiling t{1, R, R, g.N, 1, 0};
  const int64_t per = K * P;  // one sample's col
  if (K == 0) return t;      // pointwise: whole samples, no workspace
  if (per <= kTileFloats && per <= cap) {
    // batch tiles (with a [Cout, b*P] copy of the output tile when b > 1)
    int64_t b = std::clamp<int64_t>(kTileFloats / std::max<int64_t>(per, 1), 1, kTileSamples);
    while (b > 1 && b * (K + g.Cout) * P > cap) b--;
    t.bsz = std::max<int64_t>(1, std::min(b, g.N));
    t.nb = (g.N + t.bsz - 1) / t.bsz;
    t.ws = t.bsz * (K + (t.bsz > 1 ? g.Cout : 0)) * P;
    return t;
  }
  if (per <= std::min(kSampleFloats, cap)) {
    t.ws = per;
    return t;
  }
  const int64_t target = std::min(kRowTileFloats, cap);
  t.rows = std::clamp<int64_t>(target / (K * g.OW), 1, R);
  t.nr = (R + t.rows - 1) / t.rows;
  t.ws = K * t.rows * g.OW;
  return t;
}

// How many tiles may run at once: the pool's size, capped by the limit.
int64_t in_flight(const Tiling& t, int64_t items) {
  const int64_t cap = static_cast<int64_t>(conv_workspace_limit() / sizeof(float));
  int64_t c = std::min<int64_t>(num_threads(), items);
  if (t.ws > 0) c = std::min<int64_t>(c, std::max<int64_t>(1, cap / t.ws));
  return std::max<int64_t>(c, 1);
}

// Runs body(i, i + 1) for every item of [0, n) on up to `conc` workers, each
// claiming the next item when it is done with one: a worker slowed down (another
// process on its core) takes fewer items instead of holding the others up. Which
// worker runs an item never changes what the item computes.
template <typename F>
void chunks(int64_t n, int64_t conc, F&& body) {
  if (conc <= 1) {
    body(0, n);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(conc, 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1)) < n;) body(i, i + 1);
  });
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

// col[(c, kz, ky, kx), (q - q0)*OW + ow] = x[c, od*sd - pd + kz*dd, oh*sh - ph + ky*dh, ow*sw - pw + kx*dw]
// for output rows q = od*OH + oh in [q0, q1); x is one sample [C, D, H, W].
// Rows of col are `ld` floats apart (ld = b*P when b samples share a tile).
void im2col(const ConvGeom& g, const float* x, int64_t q0, int64_t q1, float* col, int64_t ld) {
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          float* dst = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * ld;
          const int64_t ix0 = kx * g.dw - g.pw;
          const Span sp = inside(ix0, g.sw, g.W, g.OW);
          // (od, oh) of row q, stepped without a division per row (rows can be a few floats)
          for (int64_t q = q0, od = q0 / g.OH, oh = q0 % g.OH; q < q1; q++, oh = oh + 1 == g.OH ? (od++, 0) : oh + 1) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd, iy = oh * g.sh - g.ph + ky * g.dh;
            float* d = dst + (q - q0) * g.OW;
            if (iz < 0 || iz >= g.D || iy < 0 || iy >= g.H) {
              std::fill(d, d + g.OW, 0.f);
              continue;
            }
            // plain loops, not memcpy: rows are a few dozen floats, where a call costs more than the copy
            const float* src = x + ((c * g.D + iz) * g.H + iy) * g.W + ix0;
            for (int64_t ow = 0; ow < sp.lo; ow++) d[ow] = 0.f;
            if (g.sw == 1)
              for (int64_t ow = sp.lo; ow < sp.hi; ow++) d[ow] = src[ow];
            else if (g.sw == 2)  // a constant stride vectorises (even lanes of two loads)
              for (int64_t ow = sp.lo; ow < sp.hi; ow++) d[ow] = src[2 * ow];
            else
              for (int64_t ow = sp.lo; ow < sp.hi; ow++) d[ow] = src[ow * g.sw];
            for (int64_t ow = sp.hi; ow < g.OW; ow++) d[ow] = 0.f;
          }
        }
}

// gx += col2im(col) for output rows [q0, q1): the adjoint of im2col.
void col2im(const ConvGeom& g, const float* col, int64_t ld, int64_t q0, int64_t q1, float* gx) {
  for (int64_t c = 0; c < g.C; c++)
    for (int64_t kz = 0; kz < g.kd; kz++)
      for (int64_t ky = 0; ky < g.kh; ky++)
        for (int64_t kx = 0; kx < g.kw; kx++) {
          const float* srcp = col + (((c * g.kd + kz) * g.kh + ky) * g.kw + kx) * ld;
          const int64_t ix0 = kx * g.dw - g.pw;
          const Span sp = inside(ix0, g.sw, g.W, g.OW);
          for (int64_t q = q0, od = q0 / g.OH, oh = q0 % g.OH; q < q1; q++, oh = oh + 1 == g.OH ? (od++, 0) : oh + 1) {
            const int64_t iz = od * g.sd - g.pd + kz * g.dd, iy = oh * g.sh - g.ph + ky * g.dh;
            if (iz < 0 || iz >= g.D || iy < 0 || iy >= g.H) continue;
            const float* s = srcp + (q - q0) * g.OW;
            float* dst = gx + ((c * g.D + iz) * g.H + iy) * g.W + ix0;
            if (g.sw == 1)
              for (int64_t ow = sp.lo; ow < sp.hi; ow++) dst[ow] += s[ow];
            else
              for (int64_t ow = sp.lo; ow < sp.hi; ow++) dst[ow * g.sw] += s[ow];
          }
        }
}

// The flattened input rows (iz*H + iy) that output rows [q0, q1) touch, as a
// conservative interval [lo, hi).
std::pair<int64_t, int64_t> touched(const ConvGeom& g, int64_t q0, int64_t q1) {
  const int64_t od0 = q0 / g.OH, od1 = (q1 - 1) / g.OH;
  const int64_t z0 = std::clamp<int64_t>(od0 * g.sd - g.pd, 0, g.D - 1);
  const int64_t z1 = std::clamp<int64_t>(od1 * g.sd - g.pd + (g.kd - 1) * g.dd, 0, g.D - 1);
  int64_t y0 = 0, y1 = g.H - 1;
  if (od0 == od1) {
    y0 = std::clamp<int64_t>((q0 - od0 * g.OH) * g.sh - g.ph, 0, g.H - 1);
    y1 = std::clamp<int64_t>((q1 - 1 - od0 * g.OH) * g.sh - g.ph + (g.kh - 1) * g.dh, 0, g.H - 1);
  }
  return {z0 * g.H + y0, z1 * g.H + y1 + 1};
}

// Phases for col2im over row tiles: the smallest m such that row tiles r and
// r + m of a sample never touch the same input row.
int64_t col2im_phases(const ConvGeom& g, const Tiling& t) {
  if (t.nr <= 1) return 1;
  std::vector<std::pair<int64_t, int64_t>> iv(t.nr);
  for (int64_t r = 0; r < t.nr; r++) iv[r] = touched(g, r * t.rows, std::min(t.R, (r + 1) * t.rows));
  int64_t m = 1;
  for (int64_t r = 0; r < t.nr; r++) {
    int64_t s = r + 1;
    while (s < t.nr && iv[s].first < iv[r].second) s++;
    m = std::max(m, s - r);
  }
  return m;
}

}  // namespace

void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu) {
  if (direct::forward(g, x, w, bias, y, relu)) return;  // small channel counts: conv_direct.cc
  const int64_t G = g.groups, Mg = g.Cout / G, Kg = g.C / G * g.kvol(), P = g.out_plane();
  const int64_t K = g.C * g.kvol(), inP = g.C * g.in_plane(), outP = g.Cout * P;
  if (conv_uses_winograd(g)) return conv_forward_winograd(g, x, w, bias, y, relu);
  const bool direct = g.pointwise();
  const Tiling t = tiling(g);
  const int64_t conc = in_flight(t, t.count());
  const bool lone = conc <= 1;  // let gemm split when the tiles cannot be
  chunks(t.count(), conc, [&](int64_t k0, int64_t k1) {
    Scratch ws(static_cast<size_t>(t.ws));
    for (int64_t k = k0; k < k1; k++) {
      const int64_t n0 = k / t.nr * t.bsz, b = std::min(t.bsz, g.N - n0);
      const int64_t q0 = k % t.nr * t.rows, q1 = std::min(t.R, q0 + t.rows);
      const int64_t p0 = q0 * g.OW, L = b * (q1 - q0) * g.OW;
      // B operand [K, L] with row stride ldb
      const float* cn = x + n0 * inP + p0;
      int64_t ldb = P;
      if (!direct) {
        for (int64_t i = 0; i < b; i++) im2col(g, x + (n0 + i) * inP, q0, q1, ws.p + i * P, L);
        cn = ws.p;
        ldb = L;
      }
      // output tile [Cout, L]: y_n itself (ld P), or a copy for batch tiles
      float* yt = b > 1 ? ws.p + K * L : y + n0 * outP + p0;
      const int64_t ldy = b > 1 ? L : P;
      if (bias)
        for (int64_t c = 0; c < g.Cout; c++) std::fill(yt + c * ldy, yt + c * ldy + L, bias[c]);
      for (int64_t gi = 0; gi < G; gi++)
        gemm(false, false, Mg, L, Kg, 1.f, w + gi * Mg * Kg, Kg, cn + gi * Kg * ldb, ldb, bias ? 1.f : 0.f, yt + gi * Mg * ldy, ldy, lone);
      if (b > 1)  // [Cout, b, P] → [b, Cout, P]
        for (int64_t i = 0; i < b; i++)
          for (int64_t c = 0; c < g.Cout; c++) std::memcpy(y + (n0 + i) * outP + c * P, yt + c * L + i * P, P * sizeof(float));
      if (relu)
        for (int64_t i = 0; i < b; i++)
          for (int64_t c = 0; c < g.Cout; c++) {
            float* yo = y + (n0 + i) * outP + c * P + p0;
            for (int64_t j = 0; j < (q1 - q0) * g.OW; j++) yo[j] = yo[j] < 0.f ? 0.f : yo[j];  // PyTorch's relu: NaN and -0 pass
          }
    }
  });
}

// gb[c] = sum over n and the plane of gy[n, c]: each plane in 16 interleaved float lanes (a fixed
// order the compiler can vectorise; one serial chain of adds was 6% of a LeNet training step), the
// lanes in order, the planes in double — the order every conv path shares, so their bias gradients
// are bitwise equal. Channels split over the pool; each channel's order is fixed whatever the threads.
void conv_bias_grad(const ConvGeom& g, const float* gy, float* gb) {
  const int64_t P = g.out_plane();
  constexpr int L = 16;
  parallel_for(g.Cout, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, g.N * P)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double acc = 0.0;
      for (int64_t n = 0; n < g.N; n++) {
        const float* p = gy + (n * g.Cout + c) * P;
        float lane[L] = {};
        int64_t i = 0;
        for (; i + L <= P; i += L)
          for (int j = 0; j < L; j++) lane[j] += p[i + j];
        float s = 0.f;
        for (int j = 0; j < L; j++) s += lane[j];
        for (; i < P; i++) s += p[i];
        acc += s;
      }
      gb[c] = static_cast<float>(acc);
    }
  });
}

void conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
  if (direct::backward(g, x, w, gy, gx, gw, gb)) return;  // small channel counts: conv_direct.cc
  const int64_t G = g.groups, Mg = g.Cout / G, Kg = g.C / G * g.kvol(), P = g.out_plane();
  const int64_t K = g.C * g.kvol(), inP = g.C * g.in_plane(), outP = g.Cout * P;
  const bool direct = g.pointwise();
  const int64_t wsize = g.Cout * Kg;

  if (gb) conv_bias_grad(g, gy, gb);
  if (conv_uses_winograd(g)) {
    if (gx) conv_backward_input_winograd(g, w, gy, gx);
    if (gw) conv_backward_weight_winograd(g, x, gy, gw);
    return;
  }
  if (!gx && !gw) return;

  const Tiling t = tiling(g);
  const int64_t count = t.count();
  const int64_t cap = static_cast<int64_t>(conv_workspace_limit() / sizeof(float));

  // One tile k: the output gradient as the GEMM's [Cout, L] operand (gy_n in
  // place, or copied for a batch tile), then the weight gradient added into gwp
  // and/or the input gradient added into gx.
  auto tile = [&](int64_t k, float* ws, float* gwp, bool do_gx, bool lone) {
    const int64_t n0 = k / t.nr * t.bsz, b = std::min(t.bsz, g.N - n0);
    const int64_t q0 = k % t.nr * t.rows, q1 = std::min(t.R, q0 + t.rows);
    const int64_t p0 = q0 * g.OW, L = b * (q1 - q0) * g.OW;
    const float* gyt = gy + n0 * outP + p0;
    int64_t ldg = P;
    if (b > 1) {
      float* cp = ws + K * L;
      for (int64_t i = 0; i < b; i++)
        for (int64_t c = 0; c < g.Cout; c++) std::memcpy(cp + c * L + i * P, gy + (n0 + i) * outP + c * P, P * sizeof(float));
      gyt = cp;
      ldg = L;
    }
    if (gwp) {
      const float* cn = x + n0 * inP + p0;
      int64_t ldb = P;
      if (!direct) {
        for (int64_t i = 0; i < b; i++) im2col(g, x + (n0 + i) * inP, q0, q1, ws + i * P, L);
        cn = ws;
        ldb = L;
      }
      for (int64_t gi = 0; gi < G; gi++)
        gemm(false, true, Mg, Kg, L, 1.f, gyt + gi * Mg * ldg, ldg, cn + gi * Kg * ldb, ldb, 1.f, gwp + gi * Mg * Kg, Kg, lone);
    }
    if (do_gx) {
      if (direct) {  // gx_n is dcol: written, not accumulated (pointwise tiles are whole samples)
        float* dst = gx + n0 * inP;
        for (int64_t gi = 0; gi < G; gi++)
          gemm(true, false, Kg, L, Mg, 1.f, w + gi * Mg * Kg, Kg, gyt + gi * Mg * ldg, ldg, 0.f, dst + gi * Kg * L, L, lone);
      } else {
        for (int64_t gi = 0; gi < G; gi++)
          gemm(true, false, Kg, L, Mg, 1.f, w + gi * Mg * Kg, Kg, gyt + gi * Mg * ldg, ldg, 0.f, ws + gi * Kg * L, L, lone);
        for (int64_t i = 0; i < b; i++) col2im(g, ws + i * P, L, q0, q1, gx + (n0 + i) * inP);
      }
    }
  };

  const int64_t phases = gx ? col2im_phases(g, t) : 1;
  if (gx && !direct) {
    parallel_for(g.N * g.C, 1, [&](int64_t a, int64_t e) {
      std::memset(gx + a * g.in_plane(), 0, (e - a) * g.in_plane() * sizeof(float));
    });
  }
  // With disjoint tiles the input gradient rides along the weight-gradient pass.
  const bool fused = gx && gw && phases == 1;

  if (gw) {
    // Partials of the weight gradient take at most a quarter of the limit.
    const int64_t A = std::max<int64_t>(1, std::min<int64_t>({kAccGroups, count, cap / 4 / std::max<int64_t>(wsize, 1)}));
    std::vector<float*> part(A, nullptr);
    part[0] = gw;
    std::memset(gw, 0, wsize * sizeof(float));
    try {
      for (int64_t a = 1; a < A; a++) {
        part[a] = pool_alloc(wsize);
        std::memset(part[a], 0, wsize * sizeof(float));
      }
      const int64_t conc = in_flight(t, A);
      chunks(A, conc, [&](int64_t a0, int64_t a1) {
        Scratch ws(static_cast<size_t>(t.ws));
        for (int64_t a = a0; a < a1; a++)
          for (int64_t k = count * a / A; k < count * (a + 1) / A; k++) tile(k, ws.p, part[a], fused, conc <= 1);
      });
    } catch (...) {
      for (int64_t a = 1; a < A; a++)
        if (part[a]) pool_free(part[a], wsize);
      throw;
    }
    for (int64_t a = 1; a < A; a++) {
      for (int64_t i = 0; i < wsize; i++) gw[i] += part[a][i];
      pool_free(part[a], wsize);
    }
  }
  if (gx && !fused) {
    std::vector<int64_t> items;
    items.reserve(static_cast<size_t>(count));
    for (int64_t ph = 0; ph < phases; ph++) {
      items.clear();
      for (int64_t k = 0; k < count; k++)
        if (k % t.nr % phases == ph) items.push_back(k);
      const int64_t conc = in_flight(t, static_cast<int64_t>(items.size()));
      chunks(static_cast<int64_t>(items.size()), conc, [&](int64_t i0, int64_t i1) {
        Scratch ws(static_cast<size_t>(t.ws));
        for (int64_t i = i0; i < i1; i++) tile(items[i], ws.p, nullptr, true, conc <= 1);
      });
    }
  }
}

}  // namespace blasnet
