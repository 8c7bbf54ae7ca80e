// Reductions, softmax and matrix products. Tensors here are viewed as
// [outer, size, inner]: the reduced dim sits between two flattened blocks.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"

namespace blasnet {

// out [outer, inner] = scale * sum over size; accumulates in double.
void reduce_sum(const float* x, float* out, int64_t outer, int64_t size, int64_t inner, float scale) {
  parallel_for(outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, size * inner)), [&](int64_t o0, int64_t o1) {
    std::vector<double> acc(inner);
    for (int64_t o = o0; o < o1; o++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* p = x + o * size * inner;
      for (int64_t s = 0; s < size; s++)
        for (int64_t i = 0; i < inner; i++) acc[i] += p[s * inner + i];
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i] * scale);
    }
  });
}

// out [outer, inner] = max over size; argmax (may be null) gets the first index
// of the maximum, as float. NaN wins, as in PyTorch.
void reduce_max(const float* x, float* out, float* argmax, int64_t outer, int64_t size, int64_t inner) {
  parallel_for(outer, 1, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++)
      for (int64_t i = 0; i < inner; i++) {
        const float* p = x + o * size * inner + i;
        float best = p[0];
        int64_t bi = 0;
        for (int64_t s = 1; s < size && best == best; s++) {
          float v = p[s * inner];
          if (v > best || v != v) {
            best = v;
            bi = s;
          }
        }
        out[o * inner + i] = best;
        if (argmax) argmax[o * inner + i] = static_cast<float>(bi);
      }
  });
}

// Numerically stable: subtract the max before exp.
void softmax(const float* x, float* y, int64_t outer, int64_t size, int64_t inner, bool log) {
  parallel_for(outer * inner, std::max<int64_t>(1, 2048 / std::max<int64_t>(size, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t o = r / inner, i = r % inner;
      const float* p = x + o * size * inner + i;
      float* q = y + o * size * inner + i;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < size; s++) mx = std::max(mx, p[s * inner]);
      if (std::isinf(mx) && mx < 0) mx = 0.f;  // all -inf: avoid inf - inf
      double sum = 0.0;
      for (int64_t s = 0; s < size; s++) sum += std::exp(static_cast<double>(p[s * inner] - mx));
      if (log) {
        // (x - max) - log(sum): adding max back first would lose the small term
        const float ls = static_cast<float>(std::log(sum));
        for (int64_t s = 0; s < size; s++) q[s * inner] = (p[s * inner] - mx) - ls;
      } else {
        const double inv = 1.0 / sum;
        for (int64_t s = 0; s < size; s++) q[s * inner] = static_cast<float>(std::exp(static_cast<double>(p[s * inner] - mx)) * inv);
      }
    }
  });
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
void softmax_backward(const float* gy, const float* y, float* gx, int64_t outer, int64_t size, int64_t inner, bool log) {
  parallel_for(outer * inner, std::max<int64_t>(1, 2048 / std::max<int64_t>(size, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t off = (r / inner) * size * inner + r % inner;
      double dot = 0.0;
      for (int64_t s = 0; s < size; s++) dot += log ? gy[off + s * inner] : gy[off + s * inner] * y[off + s * inner];
      for (int64_t s = 0; s < size; s++) {
        const int64_t k = off + s * inner;
        gx[k] = log ? gy[k] - std::exp(y[k]) * static_cast<float>(dot) : y[k] * (gy[k] - static_cast<float>(dot));
      }
    }
  });
}

void matmul(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N, int64_t K, bool transA,
            bool transB, int64_t a_bstride, int64_t b_bstride, float beta) {
  const int64_t lda = transA ? M : K, ldb = transB ? K : N;
  if (batch == 1) {
    gemm(transA, transB, M, N, K, 1.f, A, lda, B, ldb, beta, C, N);
    return;
  }
  // Many small products: one per worker; a few large ones: split each.
  if (2.0 * M * N * K < 8.0e6) {
    parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++)
        gemm(transA, transB, M, N, K, 1.f, A + b * a_bstride, lda, B + b * b_bstride, ldb, beta, C + b * M * N, N, false);
    });
  } else {
    for (int64_t b = 0; b < batch; b++)
      gemm(transA, transB, M, N, K, 1.f, A + b * a_bstride, lda, B + b * b_bstride, ldb, beta, C + b * M * N, N);
  }
}

void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in, int64_t out, bool relu) {
  if (b) {
    for (int64_t n = 0; n < N; n++) std::copy(b, b + out, y + n * out);
  }
  gemm(false, true, N, out, in, 1.f, x, in, W, in, b ? 1.f : 0.f, y, out);
  if (relu)
    for (int64_t i = 0; i < N * out; i++) y[i] = y[i] < 0.f ? 0.f : y[i];  // NaN propagates
}

}  // namespace blasnet
