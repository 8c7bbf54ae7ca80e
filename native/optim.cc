// Optimizer updates, in place, as PyTorch 1.13's single-tensor formulas
// (torch/optim/*.py), one element at a time: p, g and every state buffer hold
// n elements. Each update is a template over its flags (no branches inside
// the loop, restrict pointers) so the compiler vectorises it; this file is
// built with -fno-math-errno (CMakeLists.txt) so sqrt vectorises too — the
// results are the same IEEE operations, only errno is not set.
//
// maximize steps along +g (g' = -g); weight decay adds wd·p to g' only when
// wd != 0, as PyTorch (0·inf would otherwise turn an infinite parameter into
// NaN).
#include <algorithm>
#include <cmath>

#include "kernels.h"

namespace blasnet {
namespace {

constexpr int64_t kGrain = 1 << 15;

// SGD: d = g' + wd p; buf = momentum buf + (1 - dampening) d (buf = d the first
// time); d = nesterov ? d + momentum buf : buf; p -= lr d.
template <bool kWd, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_loop(float* __restrict p, const float* __restrict g, float* __restrict buf, int64_t b, int64_t e, float lr,
              float momentum, float keep, float wd, float sign) {
  for (int64_t i = b; i < e; i++) {
    float d = sign * g[i];
    if (kWd) d += wd * p[i];
    if (kMomentum) {
      const float v = kFirst ? d : momentum * buf[i] + keep * d;
      buf[i] = v;
      d = kNesterov ? d + momentum * v : v;
    }
    p[i] -= lr * d;
  }
}

// Adam: g' (+ wd p, or p *= 1 - lr wd when decoupled: AdamW); m = b1 m + (1 - b1) g';
// v = b2 v + (1 - b2) g'^2; amsgrad: vmax = max(vmax, v) is used for v;
// p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
template <bool kDecoupled, bool kWd, bool kAmsgrad>
void adam_loop(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
               float* __restrict vmax, int64_t b, int64_t e, float lr, float beta1, float beta2, float eps, float wd,
               float step_size, float bc2_sqrt, float sign) {
  for (int64_t i = b; i < e; i++) {
    float gi = sign * g[i];
    if (kDecoupled)
      p[i] *= 1.f - lr * wd;
    else if (kWd)
      gi += wd * p[i];
    const float mi = beta1 * m[i] + (1.f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float vv = vi;
    if (kAmsgrad) {
      vv = std::max(vmax[i], vi);
      vmax[i] = vv;
    }
    p[i] -= step_size * mi / (std::sqrt(vv) / bc2_sqrt + eps);
  }
}

// Adadelta: sq = rho sq + (1 - rho) g'^2; delta = sqrt(acc + eps) / sqrt(sq + eps) g';
// acc = rho acc + (1 - rho) delta^2; p -= lr delta.
template <bool kWd>
void adadelta_loop(float* __restrict p, const float* __restrict g, float* __restrict sq, float* __restrict acc,
                   int64_t b, int64_t e, float lr, float rho, float eps, float wd, float sign) {
  for (int64_t i = b; i < e; i++) {
    float gi = sign * g[i];
    if (kWd) gi += wd * p[i];
    const float s = sq[i] * rho + (1.f - rho) * gi * gi;
    sq[i] = s;
    const float delta = std::sqrt(acc[i] + eps) / std::sqrt(s + eps) * gi;
    acc[i] = acc[i] * rho + (1.f - rho) * delta * delta;
    p[i] -= lr * delta;
  }
}

// RMSprop: sq = alpha sq + (1 - alpha) g'^2; centered: ga = alpha ga + (1 - alpha) g',
// avg = sqrt(sq - ga^2) + eps, else avg = sqrt(sq) + eps; momentum: buf = momentum buf +
// g' / avg, p -= lr buf; else p -= lr g' / avg.
template <bool kWd, bool kCentered, bool kMomentum>
void rmsprop_loop(float* __restrict p, const float* __restrict g, float* __restrict sq, float* __restrict gavg,
                  float* __restrict buf, int64_t b, int64_t e, float lr, float alpha, float eps, float wd,
                  float momentum, float sign) {
  for (int64_t i = b; i < e; i++) {
    float gi = sign * g[i];
    if (kWd) gi += wd * p[i];
    const float s = sq[i] * alpha + (1.f - alpha) * gi * gi;
    sq[i] = s;
    float avg;
    if (kCentered) {
      const float a = gavg[i] * alpha + (1.f - alpha) * gi;
      gavg[i] = a;
      avg = std::sqrt(s - a * a) + eps;
    } else {
      avg = std::sqrt(s) + eps;
    }
    if (kMomentum) {
      const float bv = buf[i] * momentum + gi / avg;
      buf[i] = bv;
      p[i] -= lr * bv;
    } else {
      p[i] -= lr * (gi / avg);
    }
  }
}

// Adagrad: sum += g'^2; p -= clr g' / (sqrt(sum) + eps).
template <bool kWd>
void adagrad_loop(float* __restrict p, const float* __restrict g, float* __restrict sum, int64_t b, int64_t e, float clr,
                  float eps, float wd, float sign) {
  for (int64_t i = b; i < e; i++) {
    float gi = sign * g[i];
    if (kWd) gi += wd * p[i];
    const float s = sum[i] + gi * gi;
    sum[i] = s;
    p[i] -= clr * (gi / (std::sqrt(s) + eps));
  }
}

}  // namespace

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening, bool nesterov,
              float wd, bool first, bool maximize) {
  const float sign = maximize ? -1.f : 1.f, keep = 1.f - dampening;
  using Loop = void (*)(float*, const float*, float*, int64_t, int64_t, float, float, float, float, float);
  static const Loop loops[2][2][2][2] = {
      {{{sgd_loop<false, false, false, false>, sgd_loop<false, false, false, false>},
        {sgd_loop<false, false, false, false>, sgd_loop<false, false, false, false>}},
       {{sgd_loop<false, true, false, false>, sgd_loop<false, true, false, true>},
        {sgd_loop<false, true, true, false>, sgd_loop<false, true, true, true>}}},
      {{{sgd_loop<true, false, false, false>, sgd_loop<true, false, false, false>},
        {sgd_loop<true, false, false, false>, sgd_loop<true, false, false, false>}},
       {{sgd_loop<true, true, false, false>, sgd_loop<true, true, false, true>},
        {sgd_loop<true, true, true, false>, sgd_loop<true, true, true, true>}}}};
  const Loop loop = loops[wd != 0.f][momentum != 0.f][nesterov][first];
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { loop(p, g, buf, b, e, lr, momentum, keep, wd, sign); });
}

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, float lr, float beta1, float beta2,
               float eps, float wd, int64_t step, bool amsgrad, bool decoupled, bool maximize) {
  const float bc1 = 1.f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = 1.f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  const float sign = maximize ? -1.f : 1.f;
  using Loop = void (*)(float*, const float*, float*, float*, float*, int64_t, int64_t, float, float, float, float, float,
                        float, float, float);
  static const Loop loops[2][2][2] = {
      {{adam_loop<false, false, false>, adam_loop<false, false, true>}, {adam_loop<false, true, false>, adam_loop<false, true, true>}},
      {{adam_loop<true, false, false>, adam_loop<true, false, true>}, {adam_loop<true, true, false>, adam_loop<true, true, true>}}};
  const Loop loop = loops[decoupled][wd != 0.f][amsgrad];
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    loop(p, g, m, v, vmax, b, e, lr, beta1, beta2, eps, wd, step_size, bc2_sqrt, sign);
  });
}

void adadelta_step(float* p, const float* g, float* sq, float* acc, int64_t n, float lr, float rho, float eps, float wd,
                   bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  const auto loop = wd != 0.f ? adadelta_loop<true> : adadelta_loop<false>;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { loop(p, g, sq, acc, b, e, lr, rho, eps, wd, sign); });
}

void rmsprop_step(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n, float lr, float alpha,
                  float eps, float wd, float momentum, bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  using Loop = void (*)(float*, const float*, float*, float*, float*, int64_t, int64_t, float, float, float, float, float,
                        float);
  static const Loop loops[2][2][2] = {
      {{rmsprop_loop<false, false, false>, rmsprop_loop<false, false, true>}, {rmsprop_loop<false, true, false>, rmsprop_loop<false, true, true>}},
      {{rmsprop_loop<true, false, false>, rmsprop_loop<true, false, true>}, {rmsprop_loop<true, true, false>, rmsprop_loop<true, true, true>}}};
  const Loop loop = loops[wd != 0.f][gavg != nullptr][buf != nullptr];
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { loop(p, g, sq, gavg, buf, b, e, lr, alpha, eps, wd, momentum, sign); });
}

void adagrad_step(float* p, const float* g, float* sum, int64_t n, float clr, float eps, float wd, bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  const auto loop = wd != 0.f ? adagrad_loop<true> : adagrad_loop<false>;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { loop(p, g, sum, b, e, clr, eps, wd, sign); });
}

}  // namespace blasnet
