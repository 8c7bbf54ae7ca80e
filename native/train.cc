// Losses, batch normalisation and optimizer updates: the per-step native loops
// of training.
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

// PyTorch's SGD: d = ±g + wd p; buf = momentum buf + (1 - dampening) d (buf = d
// on the first step); d = nesterov ? d + momentum buf : buf; p -= lr d.
void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening, bool nesterov,
              float wd, bool first, bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      float d = sign * g[i] + wd * p[i];
      if (momentum != 0.f) {
        buf[i] = first ? d : momentum * buf[i] + (1.f - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  });
}

// PyTorch's Adam / AdamW (decoupled weight decay), amsgrad optional.
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, float lr, float beta1, float beta2,
               float eps, float wd, int64_t step, bool amsgrad, bool decoupled, bool maximize) {
  const float bc1 = 1.f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = 1.f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  const float sign = maximize ? -1.f : 1.f;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      float gi = sign * g[i];
      if (decoupled)
        p[i] *= 1.f - lr * wd;
      else if (wd != 0.f)
        gi += wd * p[i];
      m[i] = beta1 * m[i] + (1.f - beta1) * gi;
      v[i] = beta2 * v[i] + (1.f - beta2) * gi * gi;
      float vv = v[i];
      if (amsgrad) {
        vmax[i] = std::max(vmax[i], v[i]);
        vv = vmax[i];
      }
      p[i] -= step_size * m[i] / (std::sqrt(vv) / bc2_sqrt + eps);
    }
  });
}

// PyTorch's Adadelta: g' = ±g + wd p; sq = rho sq + (1 - rho) g'^2;
// delta = sqrt(acc + eps) / sqrt(sq + eps) * g'; acc = rho acc + (1 - rho) delta^2;
// p -= lr delta.
void adadelta_step(float* p, const float* g, float* sq, float* acc, int64_t n, float lr, float rho, float eps, float wd,
                   bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      float gi = sign * g[i];
      if (wd != 0.f) gi += wd * p[i];
      sq[i] = sq[i] * rho + (1.f - rho) * gi * gi;
      const float delta = std::sqrt(acc[i] + eps) / std::sqrt(sq[i] + eps) * gi;
      acc[i] = acc[i] * rho + (1.f - rho) * delta * delta;
      p[i] -= lr * delta;
    }
  });
}

// PyTorch's RMSprop: g' = ±g + wd p; sq = alpha sq + (1 - alpha) g'^2;
// centered: ga = alpha ga + (1 - alpha) g', avg = sqrt(sq - ga^2) + eps, else
// avg = sqrt(sq) + eps; momentum > 0: buf = momentum buf + g' / avg, p -= lr buf;
// else p -= lr g' / avg.
void rmsprop_step(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n, float lr, float alpha,
                  float eps, float wd, float momentum, bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      float gi = sign * g[i];
      if (wd != 0.f) gi += wd * p[i];
      sq[i] = sq[i] * alpha + (1.f - alpha) * gi * gi;
      float avg;
      if (gavg) {
        gavg[i] = gavg[i] * alpha + (1.f - alpha) * gi;
        avg = std::sqrt(sq[i] - gavg[i] * gavg[i]) + eps;
      } else {
        avg = std::sqrt(sq[i]) + eps;
      }
      if (buf) {
        buf[i] = buf[i] * momentum + gi / avg;
        p[i] -= lr * buf[i];
      } else {
        p[i] -= lr * (gi / avg);
      }
    }
  });
}

// PyTorch's Adagrad: g' = ±g + wd p; sum += g'^2; p -= clr g' / (sqrt(sum) + eps),
// clr = lr / (1 + (step - 1) lr_decay) computed by the caller.
void adagrad_step(float* p, const float* g, float* sum, int64_t n, float clr, float eps, float wd, bool maximize) {
  const float sign = maximize ? -1.f : 1.f;
  parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      float gi = sign * g[i];
      if (wd != 0.f) gi += wd * p[i];
      sum[i] += gi * gi;
      p[i] -= clr * (gi / (std::sqrt(sum[i]) + eps));
    }
  });
}

}  // namespace blasnet
