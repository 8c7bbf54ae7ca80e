// Elementwise kernels: broadcasting binary ops, unary maps, activation
// backward, reductions to a broadcast shape, permutes and random fills.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"

namespace blasnet {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per parallel chunk

template <typename F>
void binary_loop(int op, F&& run) {
  switch (op) {
    case kAdd: return run([](float a, float b) { return add_nan_first(a, b); });
    case kSub: return run([](float a, float b) { return a - b; });
    case kMul: return run([](float a, float b) { return a * b; });
    case kDiv: return run([](float a, float b) { return a / b; });
    case kPow: return run([](float a, float b) { return std::pow(a, b); });
    case kMaximum: return run([](float a, float b) { return (a != a || a > b) ? a : b; });
    case kMinimum: return run([](float a, float b) { return (a != a || a < b) ? a : b; });
    case kGt: return run([](float a, float b) { return a > b ? 1.f : 0.f; });
    case kLt: return run([](float a, float b) { return a < b ? 1.f : 0.f; });
    case kGe: return run([](float a, float b) { return a >= b ? 1.f : 0.f; });
    case kLe: return run([](float a, float b) { return a <= b ? 1.f : 0.f; });
    case kEq: return run([](float a, float b) { return a == b ? 1.f : 0.f; });
    case kMaximumGrad: return run([](float a, float b) { return a < b ? 0.f : (a == b ? 0.5f : 1.f); });
    case kMinimumGrad: return run([](float a, float b) { return a > b ? 0.f : (a == b ? 0.5f : 1.f); });
    case kPowGradBase: return run([](float a, float b) { return b == 0.f ? 0.f : b * std::pow(a, b - 1.f); });
    case kPowGradExponent:
      return run([](float a, float b) { return (a == 0.f && b >= 0.f) ? 0.f : std::pow(a, b) * std::log(a); });
    default: throw Error("binary: unknown op " + std::to_string(op));
  }
}

}  // namespace

void binary(int op, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
            const std::vector<int64_t>& as, const std::vector<int64_t>& bs) {
  const int nd = static_cast<int>(shape.size());
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n == 0) return;
  // Collapse to the common fast cases: both contiguous, or one a scalar.
  bool a_contig = true, b_contig = true, a_scalar = true, b_scalar = true;
  int64_t expect = 1;
  for (int i = nd - 1; i >= 0; i--) {
    if (shape[i] != 1) {
      if (as[i] != expect) a_contig = false;
      if (bs[i] != expect) b_contig = false;
      if (as[i] != 0) a_scalar = false;
      if (bs[i] != 0) b_scalar = false;
    }
    expect *= shape[i];
  }
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t ai = nd ? as[nd - 1] : 0, bi = nd ? bs[nd - 1] : 0;
  if (op == kAdd && a_contig && b_contig) {  // the common case, vectorised (same values as the loop below)
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) { add_nan_first_span(a + s, b + s, out + s, e - s); });
    return;
  }
  binary_loop(op, [&](auto f) {
    if (a_contig && b_contig) {
      parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; i++) out[i] = f(a[i], b[i]);
      });
    } else if (a_contig && b_scalar) {
      const float bv = b[0];
      parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; i++) out[i] = f(a[i], bv);
      });
    } else if (a_scalar && b_contig) {
      const float av = a[0];
      parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; i++) out[i] = f(av, b[i]);
      });
    } else {
      // General broadcast: iterate rows of the last dim, recomputing offsets per row.
      const int64_t rows = n / inner;
      parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; r++) {
          int64_t rem = r, ao = 0, bo = 0;
          for (int d = nd - 2; d >= 0; d--) {
            int64_t idx = rem % shape[d];
            rem /= shape[d];
            ao += idx * as[d];
            bo += idx * bs[d];
          }
          float* o = out + r * inner;
          const float* ap = a + ao;
          const float* bp = b + bo;
          for (int64_t i = 0; i < inner; i++) o[i] = f(ap[i * ai], bp[i * bi]);
        }
      });
    }
  });
}

void unary(int op, const float* x, float* out, int64_t n, float s) {
  auto run = [&](auto f) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) out[i] = f(x[i]);
    });
  };
  switch (op) {
    case kNeg: return run([](float v) { return -v; });
    case kExp: return run([](float v) { return std::exp(v); });
    case kLog: return run([](float v) { return std::log(v); });
    case kSqrt: return run([](float v) { return std::sqrt(v); });
    // NaN propagates (v < 0 is false for NaN), and -0 stays -0, as torch.relu.
    case kRelu: return run([](float v) { return v < 0.f ? 0.f : v; });
    case kSigmoid: return run([](float v) { return 1.f / (1.f + std::exp(-v)); });
    case kTanh: return run([](float v) { return std::tanh(v); });
    case kAbs: return run([](float v) { return std::fabs(v); });
    case kSquare: return run([](float v) { return v * v; });
    case kReciprocal: return run([](float v) { return 1.f / v; });
    case kAddScalar: return run([s](float v) { return v + s; });
    case kMulScalar: return run([s](float v) { return v * s; });
    case kPowScalar:
      // PyTorch's special exponents (they differ from std::pow at -inf and -0: sqrt(-inf) is NaN).
      if (s == 2.f) return run([](float v) { return v * v; });
      if (s == 3.f) return run([](float v) { return v * v * v; });
      if (s == 0.5f) return run([](float v) { return std::sqrt(v); });
      if (s == -0.5f) return run([](float v) { return 1.f / std::sqrt(v); });
      if (s == -1.f) return run([](float v) { return 1.f / v; });
      if (s == -2.f) return run([](float v) { return 1.f / (v * v); });
      return run([s](float v) { return std::pow(v, s); });
    case kRsubScalar: return run([s](float v) { return s - v; });
    case kRdivScalar: return run([s](float v) { return s / v; });
    case kClampMin: return run([s](float v) { return v < s ? s : v; });
    case kClampMax: return run([s](float v) { return v > s ? s : v; });
    case kSign: return run([](float v) { return v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f); });
    case kGtScalar: return run([s](float v) { return v > s ? 1.f : 0.f; });
    case kLtScalar: return run([s](float v) { return v < s ? 1.f : 0.f; });
    case kLog1p: return run([](float v) { return std::log1p(v); });
    case kRsqrt: return run([](float v) { return 1.f / std::sqrt(v); });
    case kLeakyRelu: return run([s](float v) { return v > 0.f ? v : v * s; });
    case kDivScalar: return run([s](float v) { return v / s; });
    case kGeScalar: return run([s](float v) { return v >= s ? 1.f : 0.f; });
    case kLeScalar: return run([s](float v) { return v <= s ? 1.f : 0.f; });
    default: throw Error("unary: unknown op " + std::to_string(op));
  }
}

void activation_backward(int op, const float* gy, const float* y, float* gx, int64_t n) {
  auto run = [&](auto f) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) gx[i] = f(gy[i], y[i]);
    });
  };
  switch (op) {
    // through the output, as torch's threshold_backward: 0 where y <= 0, else g (NaN passes g)
    case kReluBackward: return run([](float g, float v) { return v <= 0.f ? 0.f : g; });
    case kSigmoidBackward: return run([](float g, float v) { return g * v * (1.f - v); });
    case kTanhBackward: return run([](float g, float v) { return g * (1.f - v * v); });
    default: throw Error("activation_backward: unknown op " + std::to_string(op));
  }
}

void sum_to(const float* in, float* out, int64_t out_numel, const std::vector<int64_t>& shape,
            const std::vector<int64_t>& os) {
  std::fill(out, out + out_numel, 0.f);
  const int nd = static_cast<int>(shape.size());
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n == 0) return;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t oi = nd ? os[nd - 1] : 0;
  const int64_t rows = n / inner;
  // Serial: different input rows may land on the same output row.
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, oo = 0;
    for (int d = nd - 2; d >= 0; d--) {
      oo += (rem % shape[d]) * os[d];
      rem /= shape[d];
    }
    const float* src = in + r * inner;
    float* dst = out + oo;
    if (oi == 0) {
      float acc = 0.f;
      for (int64_t i = 0; i < inner; i++) acc += src[i];
      dst[0] += acc;
    } else {
      for (int64_t i = 0; i < inner; i++) dst[i] += src[i];
    }
  }
}

void axpy(float* dst, const float* src, int64_t n, float alpha) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (alpha == 1.f)
      for (int64_t i = b; i < e; i++) dst[i] += src[i];
    else
      for (int64_t i = b; i < e; i++) dst[i] += alpha * src[i];
  });
}

void fill(float* dst, int64_t n, float v) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, v); });
}

void permute(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm) {
  const int nd = static_cast<int>(shape.size());
  int64_t n = 1;
  for (auto d : shape) n *= d;
  if (n == 0) return;
  if (nd == 0) {  // a 0-d tensor: one element
    out[0] = x[0];
    return;
  }
  std::vector<int64_t> in_strides(nd, 1);
  for (int i = nd - 2; i >= 0; i--) in_strides[i] = in_strides[i + 1] * shape[i + 1];
  // out dim i walks input dim perm[i]
  std::vector<int64_t> oshape(nd), ostr(nd);
  for (int i = 0; i < nd; i++) {
    oshape[i] = shape[perm[i]];
    ostr[i] = in_strides[perm[i]];
  }
  if (nd == 2 && perm[0] == 1) {  // blocked 2-D transpose
    const int64_t R = shape[0], C = shape[1];
    constexpr int64_t B = 32;
    parallel_for((C + B - 1) / B, 4, [&](int64_t cb0, int64_t cb1) {
      for (int64_t cb = cb0; cb < cb1; cb++)
        for (int64_t rb = 0; rb < R; rb += B)
          for (int64_t c = cb * B; c < std::min(C, cb * B + B); c++)
            for (int64_t r = rb; r < std::min(R, rb + B); r++) out[c * R + r] = x[r * C + c];
    });
    return;
  }
  const int64_t inner = oshape[nd - 1], istep = ostr[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t rem = r, off = 0;
      for (int d = nd - 2; d >= 0; d--) {
        off += (rem % oshape[d]) * ostr[d];
        rem /= oshape[d];
      }
      float* o = out + r * inner;
      for (int64_t i = 0; i < inner; i++) o[i] = x[off + i * istep];
    }
  });
}

void index_rows(const float* x, float* out, int64_t row, const int32_t* idx, int64_t n) {
  parallel_for(n, std::max<int64_t>(1, kGrain / std::max<int64_t>(row, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) std::memcpy(out + i * row, x + static_cast<int64_t>(idx[i]) * row, row * sizeof(float));
  });
}

namespace {
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

// Counter-based: element i depends only on (key, i), so results do not depend
// on the thread count. Uniform: a + (b - a) * u, u in [0, 1) with 24 bits.
// Normal: mean a, std b, by Box-Muller on pairs.
void random_fill(float* out, int64_t n, uint64_t key, bool normal, float a, float b) {
  parallel_for((n + 1) / 2, kGrain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      uint64_t r = splitmix64(key ^ splitmix64(static_cast<uint64_t>(p)));
      float u1 = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);
      float u2 = static_cast<float>((r >> 16) & 0xFFFFFF) * (1.0f / 16777216.0f);
      float v1, v2;
      if (normal) {
        double rad = std::sqrt(-2.0 * std::log(1.0 - static_cast<double>(u1)));  // 1-u1 in (0, 1]
        double th = 6.283185307179586 * u2;
        v1 = a + b * static_cast<float>(rad * std::cos(th));
        v2 = a + b * static_cast<float>(rad * std::sin(th));
      } else {
        v1 = a + (b - a) * u1;
        v2 = a + (b - a) * u2;
        if (v1 >= b && b > a) v1 = std::nextafter(b, a);
        if (v2 >= b && b > a) v2 = std::nextafter(b, a);
      }
      out[2 * p] = v1;
      if (2 * p + 1 < n) out[2 * p + 1] = v2;
    }
  });
}

}  // namespace blasnet
