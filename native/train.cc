// Losses and batch normalisation: the per-step native loops of training (the
// optimizer updates are in optim.cc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels.h"

namespace blasnet {

void check_targets(const char* op, const float* target, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; n++) {
    const float t = target[n];
    if (!(t >= 0.f && t < static_cast<float>(C)) || t != std::floor(t)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(t));
      throw Error(std::string(op) + ": target[" + std::to_string(n) + "] = " + buf + " is not a class index in [0, " +
                  std::to_string(C) + ")");
    }
  }
}

// loss_n = -sum_c q_c log p_c with q = (1 - s) onehot(t) + s / C
void cross_entropy_forward(const float* logits, const float* target, float* loss_rows, float* probs, int64_t N,
                           int64_t C, float smoothing) {
  parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; n++) {
      const float* z = logits + n * C;
      float* p = probs + n * C;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; c++) mx = std::max(mx, z[c]);
      double sum = 0.0;
      for (int64_t c = 0; c < C; c++) sum += std::exp(static_cast<double>(z[c] - mx));
      const double lse = std::log(sum) + mx;
      const int64_t t = static_cast<int64_t>(target[n]);
      double loss = -(static_cast<double>(z[t]) - lse) * (1.0 - smoothing);
      if (smoothing != 0.f) {
        double all = 0.0;
        for (int64_t c = 0; c < C; c++) all += static_cast<double>(z[c]) - lse;
        loss -= smoothing / static_cast<double>(C) * all;
      }
      loss_rows[n] = static_cast<float>(loss);
      const double inv = 1.0 / sum;
      for (int64_t c = 0; c < C; c++) p[c] = static_cast<float>(std::exp(static_cast<double>(z[c] - mx)) * inv);
    }
  });
}

void cross_entropy_backward(const float* probs, const float* target, const float* scale, int64_t scale_n, float* gx,
                            int64_t N, int64_t C, float smoothing) {
  const float off = smoothing / static_cast<float>(C);
  for (int64_t n = 0; n < N; n++) {
    const float s = scale[scale_n == 1 ? 0 : n];
    const int64_t t = static_cast<int64_t>(target[n]);
    for (int64_t c = 0; c < C; c++) {
      const float q = (c == t ? 1.f - smoothing : 0.f) + off;
      gx[n * C + c] = (probs[n * C + c] - q) * s;
    }
  }
}

void nll_forward(const float* x, const float* target, float* loss_rows, int64_t N, int64_t C) {
  for (int64_t n = 0; n < N; n++) loss_rows[n] = -x[n * C + static_cast<int64_t>(target[n])];
}

void nll_backward(const float* target, const float* scale, int64_t scale_n, float* gx, int64_t N, int64_t C) {
  std::fill(gx, gx + N * C, 0.f);
  for (int64_t n = 0; n < N; n++) gx[n * C + static_cast<int64_t>(target[n])] = -scale[scale_n == 1 ? 0 : n];
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
