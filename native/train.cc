// Losses and batch normalisation: the per-step native loops of training (the
// optimizer updates are in optim.cc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels.h"

namespace blasnet {

// target: [R] class indices in [0, C), or ignore_index
void check_targets(const char* op, const float* target, int64_t R, int64_t C, int64_t ignore_index) {
  for (int64_t r = 0; r < R; r++) {
    const float t = target[r];
    if (t == static_cast<float>(ignore_index)) continue;
    if (!(t >= 0.f && t < static_cast<float>(C)) || t != std::floor(t)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(t));
      throw Error(std::string(op) + ": target[" + std::to_string(r) + "] = " + buf + " is not a class index in [0, " +
                  std::to_string(C) + ") nor ignoreIndex " + std::to_string(ignore_index));
    }
  }
}

namespace {
inline bool ignored(float t, int64_t ignore_index) { return t == static_cast<float>(ignore_index); }
// The 'mean' divisor: sum of weight[target] over the targets that are not ignored (their count without weight).
double target_weight_sum(const float* target, const float* weight, int64_t R, int64_t ignore_index) {
  double d = 0.0;
  for (int64_t r = 0; r < R; r++)
    if (!ignored(target[r], ignore_index)) d += weight ? weight[static_cast<int64_t>(target[r])] : 1.0;
  return d;
}
}  // namespace

// logits, probs: [N, C, S] (S = product of the extra dims, 1 for [N, C]); target, loss_rows: [N, S]; weight: [C] or null.
// Row r = (n, s) reads z_c = logits[(n * C + c) * S + s]:
//   loss_r = (1 - e) w_t (lse - z_t) + e / C * sum_c w_c (lse - z_c)   (0 where t == ignore_index)
// Returns the 'mean' divisor (sum of w_t over the rows not ignored).
double cross_entropy_forward(const float* logits, const float* target, const float* weight, float* loss_rows,
                             float* probs, int64_t N, int64_t C, int64_t S, float smoothing, int64_t ignore_index) {
  const int64_t R = N * S;
  parallel_for(R, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t n = r / S, s = r % S;
      const float* z = logits + n * C * S + s;
      float* p = probs + n * C * S + s;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; c++) mx = std::max(mx, z[c * S]);
      double sum = 0.0;
      for (int64_t c = 0; c < C; c++) sum += std::exp(static_cast<double>(z[c * S] - mx));
      const double lse = std::log(sum) + mx;
      const double inv = 1.0 / sum;
      for (int64_t c = 0; c < C; c++) p[c * S] = static_cast<float>(std::exp(static_cast<double>(z[c * S] - mx)) * inv);
      if (ignored(target[r], ignore_index)) {
        loss_rows[r] = 0.f;
        continue;
      }
      const int64_t t = static_cast<int64_t>(target[r]);
      double loss = (lse - static_cast<double>(z[t * S])) * (1.0 - smoothing) * (weight ? weight[t] : 1.f);
      if (smoothing != 0.f) {
        double all = 0.0;
        for (int64_t c = 0; c < C; c++) all += (lse - static_cast<double>(z[c * S])) * (weight ? weight[c] : 1.f);
        loss += smoothing / static_cast<double>(C) * all;
      }
      loss_rows[r] = static_cast<float>(loss);
    }
  });
  return target_weight_sum(target, weight, R, ignore_index);
}

// gx_c = scale_r [(1 - e) w_t (p_c - [c == t]) + e / C (W p_c - w_c)], W = sum_c w_c; 0 on ignored rows.
// scale: one value for every row (scale_n == 1) or one per row.
void cross_entropy_backward(const float* probs, const float* target, const float* weight, const float* scale,
                            int64_t scale_n, float* gx, int64_t N, int64_t C, int64_t S, float smoothing,
                            int64_t ignore_index) {
  double W = 0.0;
  for (int64_t c = 0; c < C; c++) W += weight ? weight[c] : 1.f;
  const float e = smoothing / static_cast<float>(C), Wf = static_cast<float>(W);
  const int64_t R = N * S;
  for (int64_t r = 0; r < R; r++) {
    const int64_t n = r / S, s = r % S;
    const float* p = probs + n * C * S + s;
    float* g = gx + n * C * S + s;
    if (ignored(target[r], ignore_index)) {
      for (int64_t c = 0; c < C; c++) g[c * S] = 0.f;
      continue;
    }
    const float sc = scale[scale_n == 1 ? 0 : r];
    const int64_t t = static_cast<int64_t>(target[r]);
    const float wt = (1.f - smoothing) * (weight ? weight[t] : 1.f);
    for (int64_t c = 0; c < C; c++) {
      const float pc = p[c * S];
      float v = wt * (pc - (c == t ? 1.f : 0.f));
      if (smoothing != 0.f) v += e * (Wf * pc - (weight ? weight[c] : 1.f));
      g[c * S] = v * sc;
    }
  }
}

// x: [N, C, S]; loss_r = -w_t x[n, t, s] (0 where ignored). Returns the 'mean' divisor.
double nll_forward(const float* x, const float* target, const float* weight, float* loss_rows, int64_t N, int64_t C,
                   int64_t S, int64_t ignore_index) {
  const int64_t R = N * S;
  for (int64_t r = 0; r < R; r++) {
    if (ignored(target[r], ignore_index)) {
      loss_rows[r] = 0.f;
      continue;
    }
    const int64_t n = r / S, s = r % S, t = static_cast<int64_t>(target[r]);
    loss_rows[r] = -x[(n * C + t) * S + s] * (weight ? weight[t] : 1.f);
  }
  return target_weight_sum(target, weight, R, ignore_index);
}

void nll_backward(const float* target, const float* weight, const float* scale, int64_t scale_n, float* gx, int64_t N,
                  int64_t C, int64_t S, int64_t ignore_index) {
  std::fill(gx, gx + N * C * S, 0.f);
  const int64_t R = N * S;
  for (int64_t r = 0; r < R; r++) {
    if (ignored(target[r], ignore_index)) continue;
    const int64_t n = r / S, s = r % S, t = static_cast<int64_t>(target[r]);
    gx[(n * C + t) * S + s] = -scale[scale_n == 1 ? 0 : r] * (weight ? weight[t] : 1.f);
  }
}

// x, y: [N, C, S]. Training: batch statistics (biased variance for
// normalising, unbiased for the running estimate, as PyTorch).
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                        float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C, int64_t S,
                        bool training, float momentum, float eps) {
  const int64_t m = N * S;
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      float mean, invstd;
      if (training) {
        double s = 0.0, ss = 0.0;
        for (int64_t n = 0; n < N; n++) {
          const float* p = x + (n * C + c) * S;
          for (int64_t i = 0; i < S; i++) s += p[i];
        }
        const double mu = s / m;
        for (int64_t n = 0; n < N; n++) {
          const float* p = x + (n * C + c) * S;
          for (int64_t i = 0; i < S; i++) ss += (p[i] - mu) * (p[i] - mu);
        }
        const double var = ss / m;
        mean = static_cast<float>(mu);
        invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
        if (running_mean) {
          running_mean[c] = static_cast<float>((1.0 - momentum) * running_mean[c] + momentum * mu);
          const double unbiased = m > 1 ? ss / (m - 1) : var;
          running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
      } else {
        mean = running_mean[c];
        invstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
      }
      if (save_mean) save_mean[c] = mean;
      if (save_invstd) save_invstd[c] = invstd;
      const float a = (gamma ? gamma[c] : 1.f) * invstd;
      const float b = (beta ? beta[c] : 0.f) - mean * a;
      for (int64_t n = 0; n < N; n++) {
        const float* p = x + (n * C + c) * S;
        float* q = y + (n * C + c) * S;
        for (int64_t i = 0; i < S; i++) q[i] = p[i] * a + b;
      }
    }
  });
}

void batch_norm_backward(const float* x, const float* gy, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* gx, float* ggamma, float* gbeta, int64_t N, int64_t C,
                         int64_t S, bool training) {
  const int64_t m = N * S;
  parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const float mean = save_mean[c], invstd = save_invstd[c], gam = gamma ? gamma[c] : 1.f;
      double sg = 0.0, sgx = 0.0;  // sum(gy), sum(gy * xhat)
      for (int64_t n = 0; n < N; n++) {
        const float* p = x + (n * C + c) * S;
        const float* g = gy + (n * C + c) * S;
        for (int64_t i = 0; i < S; i++) {
          sg += g[i];
          sgx += g[i] * (p[i] - mean) * invstd;
        }
      }
      if (ggamma) ggamma[c] = static_cast<float>(sgx);
      if (gbeta) gbeta[c] = static_cast<float>(sg);
      if (!gx) continue;
      for (int64_t n = 0; n < N; n++) {
        const float* p = x + (n * C + c) * S;
        const float* g = gy + (n * C + c) * S;
        float* q = gx + (n * C + c) * S;
        if (training) {
          const float k = gam * invstd / static_cast<float>(m);
          const float mg = static_cast<float>(sg), mgx = static_cast<float>(sgx);
          for (int64_t i = 0; i < S; i++) q[i] = k * (m * g[i] - mg - (p[i] - mean) * invstd * mgx);
        } else {
          for (int64_t i = 0; i < S; i++) q[i] = g[i] * gam * invstd;
        }
      }
    }
  });
}

}  // namespace blasnet
