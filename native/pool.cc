// Pooling over planes (N*C) of [D, H, W]; 1-D and 2-D use size-1 dims.
// Output sizes (ceil mode included) are computed by the caller; windows that
// start in the padding are clipped as in PyTorch.
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels.h"

namespace blasnet {
namespace {

template <typename F>
void over_planes(int64_t planes, int64_t work, F&& f) {
  parallel_for(planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) f(p);
  });
}

}  // namespace

// best/bi take v/i when v is larger or v is NaN: as PyTorch's kernels, so with several
// NaNs in a window the last one wins (the gradient goes where PyTorch sends it).
inline void take(float& best, int64_t& bi, float v, int64_t i) {
  const bool t = (v > best) | (v != v);
  best = t ? v : best;
  bi = t ? i : bi;
}

// The common 2×2 / stride 2 window over one plane, written as plain selects so
// the compiler vectorises it (random data makes branches coin flips). Returns
// false, having written garbage, when the plane holds a NaN: the caller then
// takes the general path, which propagates NaN as PyTorch does.
bool pool2x2(const PoolGeom& g, const float* __restrict xp, float* __restrict yp, int32_t* __restrict ip) {
  int nan = 0;
  for (int64_t oh = 0; oh < g.OH; oh++) {
    const float* __restrict r0 = xp + 2 * oh * g.W;
    const float* __restrict r1 = r0 + g.W;
    float* __restrict yr = yp + oh * g.OW;
    const int32_t base = static_cast<int32_t>(2 * oh * g.W);
    for (int64_t ow = 0; ow < g.OW; ow++) {
      const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      nan |= (a != a) | (b != b) | (c != c) | (d != d);
      // std::max(x, y) is (x < y) ? y : x: one maxss, and ties keep the first, as PyTorch
      const float m1 = std::max(a, b), m2 = std::max(c, d), m = std::max(m1, m2);
      yr[ow] = m;
      if (ip) {
        const int32_t k1 = b > a, k2 = static_cast<int32_t>(g.W) + (d > c), t = m2 > m1;
        ip[oh * g.OW + ow] = base + 2 * static_cast<int32_t>(ow) + k1 + t * (k2 - k1);
      }
    }
  }
  return !nan;
}

// NaN propagates (with several NaNs in a window the last one wins), as in PyTorch.
void max_pool_forward(const PoolGeom& g, const float* x, float* y, int32_t* idx) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  const bool flat = g.D == 1 && g.kd == 1 && g.pd == 0 && g.OD == 1 && g.dh == 1 && g.dw == 1;  // 1-D and 2-D
  over_planes(g.planes, out * g.kd * g.kh * g.kw, [&](int64_t p) {
    const float* xp = x + p * in;
    float* yp = y + p * out;
    int32_t* ip = idx ? idx + p * out : nullptr;
    if (flat && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && 2 * g.OH <= g.H &&
        2 * g.OW <= g.W && pool2x2(g, xp, yp, ip))
      return;
    // PyTorch's window: taps start, start + d, …, clipped to the input; the index starts at
    // the first tap inside it and the value at −inf.
    auto taps = [](int64_t o, int64_t s, int64_t p, int64_t k, int64_t d, int64_t L, int64_t& a, int64_t& b) {
      a = o * s - p;
      b = std::min(a + (k - 1) * d + 1, L);
      while (a < 0) a += d;
    };
    for (int64_t od = 0; od < g.OD; od++) {
      int64_t z0, z1;
      taps(od, g.sd, g.pd, g.kd, g.dd, g.D, z0, z1);
      for (int64_t oh = 0; oh < g.OH; oh++) {
        int64_t y0, y1;
        taps(oh, g.sh, g.ph, g.kh, g.dh, g.H, y0, y1);
        for (int64_t ow = 0; ow < g.OW; ow++) {
          int64_t x0, x1;
          taps(ow, g.sw, g.pw, g.kw, g.dw, g.W, x0, x1);
          int64_t bi = (z0 * g.H + y0) * g.W + x0;
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t z = z0; z < z1; z += g.dd)
            for (int64_t yy = y0; yy < y1; yy += g.dh) {
              const int64_t row = (z * g.H + yy) * g.W;
              for (int64_t xx = x0; xx < x1; xx += g.dw) take(best, bi, xp[row + xx], row + xx);
            }
          // a dilated window can have no tap inside the input: −inf, and index −1 (no element, no gradient)
          if (z0 >= z1 || y0 >= y1 || x0 >= x1) bi = -1;
          const int64_t o = (od * g.OH + oh) * g.OW + ow;
          yp[o] = best;
          if (ip) ip[o] = static_cast<int32_t>(bi);
        }
      }
    }
  });
}

void max_pool_backward(const PoolGeom& g, const float* gy, const int32_t* idx, float* gx) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, out, [&](int64_t p) {
    float* gxp = gx + p * in;
    std::memset(gxp, 0, in * sizeof(float));
    const float* gyp = gy + p * out;
    const int32_t* ip = idx + p * out;
    for (int64_t o = 0; o < out; o++)
      if (ip[o] >= 0) gxp[ip[o]] += gyp[o];
  });
}

namespace {
// PyTorch's divisor: the window clipped to the padded input (count_include_pad)
// or to the input itself.
template <typename F>
void avg_windows(const PoolGeom& g, bool include_pad, int64_t divisor, F&& f) {
  for (int64_t od = 0; od < g.OD; od++) {
    int64_t z0 = od * g.sd - g.pd, z1 = std::min(z0 + g.kd, g.D + g.pd);
    const int64_t pz = z1 - z0;
    z0 = std::max<int64_t>(z0, 0);
    z1 = std::min(z1, g.D);
    for (int64_t oh = 0; oh < g.OH; oh++) {
      int64_t y0 = oh * g.sh - g.ph, y1 = std::min(y0 + g.kh, g.H + g.ph);
      const int64_t py = y1 - y0;
      y0 = std::max<int64_t>(y0, 0);
      y1 = std::min(y1, g.H);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        int64_t x0 = ow * g.sw - g.pw, x1 = std::min(x0 + g.kw, g.W + g.pw);
        const int64_t px = x1 - x0;
        x0 = std::max<int64_t>(x0, 0);
        x1 = std::min(x1, g.W);
        const int64_t n = (z1 - z0) * (y1 - y0) * (x1 - x0);
        const int64_t count = divisor > 0 ? divisor : include_pad ? pz * py * px : n;
        // PyTorch writes 0 for a window with no input element; it divides the sum by the count
        f((od * g.OH + oh) * g.OW + ow, z0, z1, y0, y1, x0, x1, z0 < z1 && y0 < y1 && x0 < x1 ? static_cast<float>(count) : 0.f);
      }
    }
  }
}
}  // namespace

void avg_pool_forward(const PoolGeom& g, const float* x, float* y, bool include_pad, int64_t divisor) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, out * g.kd * g.kh * g.kw, [&](int64_t p) {
    const float* xp = x + p * in;
    float* yp = y + p * out;
    avg_windows(g, include_pad, divisor, [&](int64_t o, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1, float count) {
      if (count == 0.f) {
        yp[o] = 0.f;
        return;
      }
      float s = 0.f;
      for (int64_t z = z0; z < z1; z++)
        for (int64_t yy = y0; yy < y1; yy++)
          for (int64_t xx = x0; xx < x1; xx++) s += xp[(z * g.H + yy) * g.W + xx];
      yp[o] = s / count;
    });
  });
}

void avg_pool_backward(const PoolGeom& g, const float* gy, float* gx, bool include_pad, int64_t divisor) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, out * g.kd * g.kh * g.kw, [&](int64_t p) {
    float* gxp = gx + p * in;
    std::memset(gxp, 0, in * sizeof(float));
    const float* gyp = gy + p * out;
    avg_windows(g, include_pad, divisor, [&](int64_t o, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1, float count) {
      if (count == 0.f) return;
      const float v = gyp[o] / count;
      for (int64_t z = z0; z < z1; z++)
        for (int64_t yy = y0; yy < y1; yy++)
          for (int64_t xx = x0; xx < x1; xx++) gxp[(z * g.H + yy) * g.W + xx] += v;
    });
  });
}

// Window i of an adaptive pool covers [floor(i*L/O), ceil((i+1)*L/O)).
void adaptive_avg_pool_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* x, float* y) {
  over_planes(planes, H * W, [&](int64_t p) {
    const float* xp = x + p * H * W;
    float* yp = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ow++) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        float s = 0.f;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) s += xp[h * W + w];
        yp[oh * OW + ow] = s / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  });
}

void adaptive_avg_pool_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* gy, float* gx) {
  over_planes(planes, H * W, [&](int64_t p) {
    float* gxp = gx + p * H * W;
    std::memset(gxp, 0, H * W * sizeof(float));
    const float* gyp = gy + p * OH * OW;
    for (int64_t oh = 0; oh < OH; oh++) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ow++) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        const float v = gyp[oh * OW + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) gxp[h * W + w] += v;
      }
    }
  });
}

namespace {
inline int64_t a_start(int64_t i, int64_t L, int64_t O) { return i * L / O; }
inline int64_t a_end(int64_t i, int64_t L, int64_t O) { return ((i + 1) * L + O - 1) / O; }

template <typename F>
void adaptive_windows(const PoolGeom& g, F&& f) {
  for (int64_t od = 0; od < g.OD; od++) {
    const int64_t z0 = a_start(od, g.D, g.OD), z1 = a_end(od, g.D, g.OD);
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const int64_t y0 = a_start(oh, g.H, g.OH), y1 = a_end(oh, g.H, g.OH);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        const int64_t x0 = a_start(ow, g.W, g.OW), x1 = a_end(ow, g.W, g.OW);
        f((od * g.OH + oh) * g.OW + ow, z0, z1, y0, y1, x0, x1);
      }
    }
  }
}
}  // namespace

void adaptive_avg_pool3d_forward(const PoolGeom& g, const float* x, float* y) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, in, [&](int64_t p) {
    const float* xp = x + p * in;
    float* yp = y + p * out;
    adaptive_windows(g, [&](int64_t o, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
      float s = 0.f;
      for (int64_t z = z0; z < z1; z++)
        for (int64_t yy = y0; yy < y1; yy++)
          for (int64_t xx = x0; xx < x1; xx++) s += xp[(z * g.H + yy) * g.W + xx];
      yp[o] = s / static_cast<float>((z1 - z0) * (y1 - y0) * (x1 - x0));
    });
  });
}

void adaptive_avg_pool3d_backward(const PoolGeom& g, const float* gy, float* gx) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, in, [&](int64_t p) {
    float* gxp = gx + p * in;
    std::memset(gxp, 0, in * sizeof(float));
    const float* gyp = gy + p * out;
    adaptive_windows(g, [&](int64_t o, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
      const float v = gyp[o] / static_cast<float>((z1 - z0) * (y1 - y0) * (x1 - x0));
      for (int64_t z = z0; z < z1; z++)
        for (int64_t yy = y0; yy < y1; yy++)
          for (int64_t xx = x0; xx < x1; xx++) gxp[(z * g.H + yy) * g.W + xx] += v;
    });
  });
}

void adaptive_max_pool3d_forward(const PoolGeom& g, const float* x, float* y, int32_t* idx) {
  const int64_t in = g.D * g.H * g.W, out = g.OD * g.OH * g.OW;
  over_planes(g.planes, in, [&](int64_t p) {
    const float* xp = x + p * in;
    float* yp = y + p * out;
    int32_t* ip = idx ? idx + p * out : nullptr;
    adaptive_windows(g, [&](int64_t o, int64_t z0, int64_t z1, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
      int64_t bi = (z0 * g.H + y0) * g.W + x0;
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t z = z0; z < z1; z++)
        for (int64_t yy = y0; yy < y1; yy++) {
          const int64_t row = (z * g.H + yy) * g.W;
          for (int64_t xx = x0; xx < x1; xx++) take(best, bi, xp[row + xx], row + xx);
        }
      yp[o] = best;
      if (ip) ip[o] = static_cast<int32_t>(bi);
    });
  });
}

void max_unpool_forward(int64_t planes, int64_t in, int64_t out, const float* x, const int32_t* idx, float* y) {
  over_planes(planes, in + out, [&](int64_t p) {
    float* yp = y + p * out;
    std::memset(yp, 0, out * sizeof(float));
    const float* xp = x + p * in;
    const int32_t* ip = idx + p * in;
    for (int64_t i = 0; i < in; i++) yp[ip[i]] = xp[i];
  });
}

void max_unpool_backward(int64_t planes, int64_t in, int64_t out, const float* gy, const int32_t* idx, float* gx) {
  over_planes(planes, in, [&](int64_t p) {
    const float* gyp = gy + p * out;
    float* gxp = gx + p * in;
    const int32_t* ip = idx + p * in;
    for (int64_t i = 0; i < in; i++) gxp[i] = gyp[ip[i]];
  });
}

}  // namespace blasnet
