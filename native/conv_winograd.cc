// Winograd F(2×2, 3×3) for 2-D 3×3 convolutions, stride 1, dilation 1, one group
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015):
// each 2×2 block of outputs comes from a 4×4 patch of input with 16 multiplies per
// (input, output) channel pair instead of 36, as 16 GEMMs.
//
//   U[ξ][o][c] = (G w[o,c] Gᵀ)[ξ]                  w: [Cout, C, 3, 3]  →  U: [16][Cout][C]
//   V[ξ][c][t] = (Bᵀ d[c,t] B)[ξ]                  d: the 4×4 input patch of tile t (zero outside)
//   M[ξ] = U[ξ] · V[ξ]                             [Cout, C] · [C, tiles]   (sgemm, 16 per block)
//   y[o, 2ty + i, 2tx + j] = (Aᵀ M[·][o][t] A)[i][j] + bias[o]
//
// Bounded like the GEMM lowering: tiles are processed in blocks of tile rows whose
// V and M fit a fixed budget (under conv_workspace_limit()), blocks run in parallel;
// each output is written by one block, so results do not depend on the thread count.
// The grad input is the same algorithm on gy with the weights flipped and transposed
// (padding 2 − p); the grad weight is the adjoint of the forward (at the end of the file).
// The GEMM path (conv.cc) is the oracle: tests compare the two, and both with naive loops.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace blasnet {

bool winograd_applies(const ConvGeom& g) {
  return g.kd == 1 && g.D == 1 && g.OD == 1 && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 &&
         g.dw == 1 && g.groups == 1 && g.ph >= 0 && g.ph <= 2 && g.pw >= 0 && g.pw <= 2 && g.pd == 0;
}

namespace {

// 4 floats as one SSE vector (the x86-64 baseline; GCC/Clang vector extensions)
typedef float v4 __attribute__((vector_size(16)));
inline v4 load4(const float* p) {
  v4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, v4 v) { std::memcpy(p, &v, sizeof v); }

// Floats of V + M a block of tile rows aims for (2 MiB; measured against 0.5, 1 and 4 MiB on a ResNet 64→64 56² layer: the
// best or tied).
constexpr int64_t kBlockFloats = 1 << 19;

// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles of tile rows [ty0, ty1) of one sample xn [C, H, W];
// pad: 4 rows of PW floats, deint: 8 of TW + 1 (scratch).
void input_transform(const ConvGeom& g, const float* xn, int64_t ty0, int64_t ty1, int64_t TW, int64_t PW, float* V,
                     int64_t nt, float* pad, float* deint) {
  const int64_t C = g.C, H = g.H, W = g.W;
  // V = Bᵀ d B, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]];
  // a tile row at a time from 4 zero-padded input rows, so the loop over tiles has no
  // bounds checks and vectorises (stores contiguous in t, loads of stride 2)
  for (int64_t c = 0; c < C; c++) {
    const float* xc = xn + c * H * W;
    for (int64_t ty = ty0; ty < ty1; ty++) {
      for (int i = 0; i < 4; i++) {
        float* r = pad + i * PW;
        const int64_t iy = 2 * ty - g.ph + i;
        std::fill(r, r + PW, 0.f);
        if (iy >= 0 && iy < H) {
          const int64_t lo = std::max<int64_t>(0, -g.pw), hi = std::min<int64_t>(W, PW - g.pw);
          for (int64_t ix = lo; ix < hi; ix++) r[ix + g.pw] = xc[iy * W + ix];
        }
      }
      // r[i] even / odd: the padded row split by parity, so tile tx reads
      // ev[tx], od[tx], ev[tx + 1], od[tx + 1] (unit stride, 4 tiles a vector)
      const float* ev[4];
      const float* od[4];
      for (int i = 0; i < 4; i++) {
        float* r = pad + i * PW;
        float* e = deint + i * 2 * (TW + 1);
        for (int64_t k = 0; k <= TW; k++) {
          e[k] = r[2 * k];
          e[TW + 1 + k] = r[2 * k + 1];
        }
        ev[i] = e;
        od[i] = e + TW + 1;
      }
      float* v = V + c * nt + (ty - ty0) * TW;
      const int64_t xs = C * nt;  // between the 16 ξ planes
      int64_t tx = 0;
      for (; tx + 4 <= TW; tx += 4) {
        v4 d[4][4];
        for (int i = 0; i < 4; i++) {
          d[i][0] = load4(ev[i] + tx);
          d[i][1] = load4(od[i] + tx);
          d[i][2] = load4(ev[i] + tx + 1);
          d[i][3] = load4(od[i] + tx + 1);
        }
        v4 t[4][4];
        for (int j = 0; j < 4; j++) {
          t[0][j] = d[0][j] - d[2][j];
          t[1][j] = d[1][j] + d[2][j];
          t[2][j] = d[2][j] - d[1][j];
          t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
          store4(v + (i * 4 + 0) * xs + tx, t[i][0] - t[i][2]);
          store4(v + (i * 4 + 1) * xs + tx, t[i][1] + t[i][2]);
          store4(v + (i * 4 + 2) * xs + tx, t[i][2] - t[i][1]);
          store4(v + (i * 4 + 3) * xs + tx, t[i][1] - t[i][3]);
        }
      }
      for (; tx < TW; tx++) {
        float d[4][4], t[4][4];
        for (int i = 0; i < 4; i++) {
          d[i][0] = ev[i][tx];
          d[i][1] = od[i][tx];
          d[i][2] = ev[i][tx + 1];
          d[i][3] = od[i][tx + 1];
        }
        for (int j = 0; j < 4; j++) {
          t[0][j] = d[0][j] - d[2][j];
          t[1][j] = d[1][j] + d[2][j];
          t[2][j] = d[2][j] - d[1][j];
          t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
          v[(i * 4 + 0) * xs + tx] = t[i][0] - t[i][2];
          v[(i * 4 + 1) * xs + tx] = t[i][1] + t[i][2];
          v[(i * 4 + 2) * xs + tx] = t[i][2] - t[i][1];
          v[(i * 4 + 3) * xs + tx] = t[i][1] - t[i][3];
        }
      }
    }
  }
}

// U[ξ][o][c] = (G w[o,c] Gᵀ)[ξ], G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]; w: [O, C, 3, 3].
// One output channel at a time through a [16][C] buffer, so U is written in contiguous runs of C: the
// 16 planes of U are O·C floats apart, and storing one (o, c)'s 16 values straight into them hits a
// single cache set when O·C is a multiple of 1024 (64→64: this transform took 55% of a batch-1 8² call).
void weight_transform(const float* w, int64_t O, int64_t C, float* U) {
  std::vector<float> row(static_cast<size_t>(16 * C));
  for (int64_t o = 0; o < O; o++) {
    for (int64_t c = 0; c < C; c++) {
      const float* k = w + (o * C + c) * 9;
      float t[4][3];
      for (int j = 0; j < 3; j++) {
        t[0][j] = k[j];
        t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
        t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
        t[3][j] = k[6 + j];
      }
      for (int i = 0; i < 4; i++) {
        const float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; j++) row[(i * 4 + j) * C + c] = u[j];
      }
    }
    for (int xi = 0; xi < 16; xi++) std::memcpy(U + (xi * O + o) * C, row.data() + xi * C, C * sizeof(float));
  }
}

}  // namespace

// y (overwritten) = conv(x, w) + bias; g must satisfy winograd_applies.
void conv_forward_winograd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu) {
  const int64_t C = g.C, O = g.Cout, H = g.H, W = g.W, OH = g.OH, OW = g.OW;
  const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  std::vector<float> U(static_cast<size_t>(16 * O * C));
  weight_transform(w, O, C, U.data());
  const int64_t per_row = 16 * (C + O) * TW;
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(conv_workspace_limit() / sizeof(float)));
  const int64_t rows = std::clamp<int64_t>(std::min(kBlockFloats, cap) / std::max<int64_t>(per_row, 1), 1, TH);
  const int64_t nblk = (TH + rows - 1) / rows, count = g.N * nblk;
  const int64_t PW = 2 * TW + 2;  // a zero-padded input row (also holds two output rows)
  const int64_t ws = rows * per_row + 4 * PW + 8 * (TW + 1);
  int64_t conc = std::min<int64_t>({num_threads(), count, std::max<int64_t>(1, cap / ws)});
  conc = std::max<int64_t>(conc, 1);
  auto body = [&](int64_t k0, int64_t k1) {
    Scratch buf(static_cast<size_t>(ws));
    for (int64_t k = k0; k < k1; k++) {
      const int64_t n = k / nblk, ty0 = k % nblk * rows, ty1 = std::min(TH, ty0 + rows), nt = (ty1 - ty0) * TW;
      float* V = buf.p;                 // [16][C][nt]
      float* M = buf.p + 16 * C * nt;   // [16][O][nt]
      float* pad = M + 16 * O * nt;     // [4][PW]
      float* deint = pad + 4 * PW;      // [4][2][TW + 1]
      const float* xn = x + n * C * H * W;
      input_transform(g, xn, ty0, ty1, TW, PW, V, nt, pad, deint);
      for (int xi = 0; xi < 16; xi++)
        gemm(false, false, O, nt, C, 1.f, U.data() + xi * O * C, C, V + xi * C * nt, nt, 0.f, M + xi * O * nt, nt, conc <= 1);
      // y = Aᵀ m A, Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]; two output rows per tile row, through
      // a row buffer of 2·TW so the loop over tiles is free of bounds checks
      float* yn = y + n * O * OH * OW;
      for (int64_t o = 0; o < O; o++) {
        const float bo = bias ? bias[o] : 0.f;
        float* yo = yn + o * OH * OW;
        for (int64_t ty = ty0; ty < ty1; ty++) {
          const float* __restrict m = M + o * nt + (ty - ty0) * TW;
          const int64_t ms = O * nt;
          // q0/q1: the two output rows, even columns then odd ones
          float* q0e = pad;
          float* q0o = pad + TW;
          float* q1e = pad + 2 * TW;
          float* q1o = pad + 3 * TW;
          const v4 b4 = {bo, bo, bo, bo};
          int64_t tx = 0;
          for (; tx + 4 <= TW; tx += 4) {
            v4 a[4][4];
            for (int i = 0; i < 4; i++)
              for (int j = 0; j < 4; j++) a[i][j] = load4(m + (i * 4 + j) * ms + tx);
            v4 u0[4], u1[4];
            for (int j = 0; j < 4; j++) {
              u0[j] = a[0][j] + a[1][j] + a[2][j];
              u1[j] = a[1][j] - a[2][j] - a[3][j];
            }
            store4(q0e + tx, u0[0] + u0[1] + u0[2] + b4);
            store4(q0o + tx, u0[1] - u0[2] - u0[3] + b4);
            store4(q1e + tx, u1[0] + u1[1] + u1[2] + b4);
            store4(q1o + tx, u1[1] - u1[2] - u1[3] + b4);
          }
          for (; tx < TW; tx++) {
            float a[4][4];
            for (int i = 0; i < 4; i++)
              for (int j = 0; j < 4; j++) a[i][j] = m[(i * 4 + j) * ms + tx];
            float u0[4], u1[4];
            for (int j = 0; j < 4; j++) {
              u0[j] = a[0][j] + a[1][j] + a[2][j];
              u1[j] = a[1][j] - a[2][j] - a[3][j];
            }
            q0e[tx] = u0[0] + u0[1] + u0[2] + bo;
            q0o[tx] = u0[1] - u0[2] - u0[3] + bo;
            q1e[tx] = u1[0] + u1[1] + u1[2] + bo;
            q1o[tx] = u1[1] - u1[2] - u1[3] + bo;
          }
          for (int i = 0; i < 2; i++) {
            const int64_t oy = 2 * ty + i;
            if (oy >= OH) break;
            const float* qe = i ? q1e : q0e;
            const float* qo = i ? q1o : q0o;
            float* dst = yo + oy * OW;
            for (int64_t j = 0; j + 1 < OW; j += 2) {
              dst[j] = qe[j / 2];
              dst[j + 1] = qo[j / 2];
            }
            if (OW & 1) dst[OW - 1] = qe[OW / 2];
            if (relu)
              for (int64_t j = 0; j < OW; j++) dst[j] = dst[j] < 0.f ? 0.f : dst[j];  // NaN and -0 pass, as PyTorch
          }
        }
      }
    }
  };
  if (conc <= 1) {
    body(0, count);
  } else {  // blocks claimed one at a time (see chunks() in conv.cc)
    std::atomic<int64_t> next{0};
    parallel_for(conc, 1, [&](int64_t, int64_t) {
      for (int64_t k; (k = next.fetch_add(1)) < count;) body(k, k + 1);
    });
  }
}

// gx (overwritten) = the input gradient of a convolution that satisfies winograd_applies:
// the same algorithm on gy with w flipped and transposed, padding 2 − p.
void conv_backward_input_winograd(const ConvGeom& g, const float* w, const float* gy, float* gx) {
  ConvGeom t = g;
  t.C = g.Cout;
  t.H = g.OH;
  t.W = g.OW;
  t.Cout = g.C;
  t.ph = 2 - g.ph;
  t.pw = 2 - g.pw;
  t.OH = g.H;
  t.OW = g.W;
  std::vector<float> wt(static_cast<size_t>(g.C * g.Cout * 9));
  for (int64_t o = 0; o < g.Cout; o++)
    for (int64_t c = 0; c < g.C; c++)
      for (int u = 0; u < 9; u++) wt[(c * g.Cout + o) * 9 + (8 - u)] = w[(o * g.C + c) * 9 + u];
  conv_forward_winograd(t, gy, wt.data(), nullptr, gx, false);
}

}  // namespace blasnet

namespace blasnet {

// gw (overwritten) = the weight gradient, the adjoint of the forward above:
//   dU[ξ][o][c] = Σ_t (A g_t Aᵀ)[ξ][o] · V[ξ][c][t]    g_t: the 2×2 output-gradient block of tile t
//   gw[o, c] = Gᵀ dU[·][o][c] G
// Blocks of tile rows are dealt into at most 8 contiguous groups, each summing its blocks
// in order into its own dU (GEMM beta = 1); the groups are added in order: the result
// does not depend on the thread count.
void conv_backward_weight_winograd(const ConvGeom& g, const float* x, const float* gy, float* gw) {
  const int64_t C = g.C, O = g.Cout, OH = g.OH, OW = g.OW;
  const int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2, PW = 2 * TW + 2, usize = 16 * O * C;
  const int64_t per_row = 16 * (C + O) * TW;
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(conv_workspace_limit() / sizeof(float)));
  const int64_t rows = std::clamp<int64_t>(std::min(kBlockFloats, cap) / std::max<int64_t>(per_row, 1), 1, TH);
  const int64_t nblk = (TH + rows - 1) / rows, count = g.N * nblk;
  const int64_t ws = rows * per_row + 4 * PW + 8 * (TW + 1);
  const int64_t A = std::max<int64_t>(1, std::min<int64_t>({8, count, cap / 4 / std::max<int64_t>(usize, 1)}));
  std::vector<float> dU(static_cast<size_t>(A * usize), 0.f);
  int64_t conc = std::min<int64_t>({num_threads(), A, std::max<int64_t>(1, cap / ws)});
  conc = std::max<int64_t>(conc, 1);
  auto group = [&](int64_t a0, int64_t a1) {
    Scratch buf(static_cast<size_t>(ws));
    for (int64_t a = a0; a < a1; a++)
      for (int64_t k = count * a / A; k < count * (a + 1) / A; k++) {
        const int64_t n = k / nblk, ty0 = k % nblk * rows, ty1 = std::min(TH, ty0 + rows), nt = (ty1 - ty0) * TW;
        float* V = buf.p;                // [16][C][nt]
        float* Mg = buf.p + 16 * C * nt;  // [16][O][nt]
        float* pad = Mg + 16 * O * nt;
        float* deint = pad + 4 * PW;
        input_transform(g, x + n * C * g.H * g.W, ty0, ty1, TW, PW, V, nt, pad, deint);
        // Mg = A g Aᵀ, A = [[1, 0], [1, 1], [1, −1], [0, −1]] (zero outside the output)
        const float* gn = gy + n * O * OH * OW;
        for (int64_t o = 0; o < O; o++) {
          const float* go = gn + o * OH * OW;
          for (int64_t ty = ty0; ty < ty1; ty++)
            for (int64_t tx = 0; tx < TW; tx++) {
              const int64_t oy = 2 * ty, ox = 2 * tx;
              const bool y1 = oy + 1 < OH, x1 = ox + 1 < OW;
              const float g00 = go[oy * OW + ox], g01 = x1 ? go[oy * OW + ox + 1] : 0.f;
              const float g10 = y1 ? go[(oy + 1) * OW + ox] : 0.f, g11 = y1 && x1 ? go[(oy + 1) * OW + ox + 1] : 0.f;
              const float s[4][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};
              const int64_t col = (ty - ty0) * TW + tx;
              for (int i = 0; i < 4; i++) {
                const float r[4] = {s[i][0], s[i][0] + s[i][1], s[i][0] - s[i][1], -s[i][1]};
                for (int j = 0; j < 4; j++) Mg[((i * 4 + j) * O + o) * nt + col] = r[j];
              }
            }
        }
        float* du = dU.data() + a * usize;
        for (int xi = 0; xi < 16; xi++)
          gemm(false, true, O, C, nt, 1.f, Mg + xi * O * nt, nt, V + xi * C * nt, nt, 1.f, du + xi * O * C, C, conc <= 1);
      }
  };
  if (conc <= 1) {
    group(0, A);
  } else {
    std::atomic<int64_t> next{0};
    parallel_for(conc, 1, [&](int64_t, int64_t) {
      for (int64_t a; (a = next.fetch_add(1)) < A;) group(a, a + 1);
    });
  }
  for (int64_t a = 1; a < A; a++)
    for (int64_t i = 0; i < usize; i++) dU[i] += dU[a * usize + i];
  // gw = Gᵀ D G, G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
  // one output channel at a time through a [16][C] buffer (see weight_transform: reading the 16 planes
  // of dU per (o, c) hits one cache set)
  std::vector<float> row(static_cast<size_t>(16 * C));
  for (int64_t o = 0; o < O; o++) {
    for (int xi = 0; xi < 16; xi++) std::memcpy(row.data() + xi * C, dU.data() + (xi * O + o) * C, C * sizeof(float));
    for (int64_t c = 0; c < C; c++) {
      float D[4][4];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) D[i][j] = row[(i * 4 + j) * C + c];
      float t[3][4];
      for (int j = 0; j < 4; j++) {
        t[0][j] = D[0][j] + 0.5f * (D[1][j] + D[2][j]);
        t[1][j] = 0.5f * (D[1][j] - D[2][j]);
        t[2][j] = 0.5f * (D[1][j] + D[2][j]) + D[3][j];
      }
      float* k = gw + (o * C + c) * 9;
      for (int i = 0; i < 3; i++) {
        k[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
        k[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
        k[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
  }
}

}  // namespace blasnet
