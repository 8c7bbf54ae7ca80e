// nn.functional.pad: constant / reflect / replicate / circular padding of the
// last (up to) three dims, forward and backward. The caller (binding_pad.cc)
// turns the mode and the pads into one source coordinate per output coordinate
// and dim (PadMap), checked to lie inside the input; here that map is applied.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace blasnet {

namespace {

// Source coordinate of output coordinate o along a dim of size L padded to O by `before` (the rest
// after), or -1 for the fill value; -2 when none exists (the caller refuses). Negative pads crop.
// mode: 0 constant, 1 reflect, 2 replicate (PyTorch 1.13's index formulas, which read relative to the
// uncropped input), 3 circular (the cropped range repeated).
int64_t source(int64_t o, int64_t before, int64_t L, int64_t O, int mode) {
  const int64_t after = O - L - before;
  const int64_t c0 = std::max<int64_t>(-before, 0), c1 = std::max<int64_t>(-after, 0);
  const int64_t o0 = std::max<int64_t>(before, 0);
  if (mode == 0) {
    const int64_t i = o - before;
    return i >= 0 && i < L ? i : -1;
  }
  if (mode == 1 || mode == 2) {
    int64_t i;
    if (o < before)
      i = mode == 1 ? 2 * before - o : before;
    else if (o < L + before)
      i = o;
    else
      i = mode == 1 ? 2 * (L + before - 1) - o : L + before - 1;
    i = i - o0 + c0;
    return i >= 0 && i < L ? i : -2;
  }
  const int64_t Lc = L - c0 - c1;
  if (Lc < 1) return -2;
  const int64_t i = o - o0;
  return c0 + ((i % Lc) + Lc) % Lc;
}

}  // namespace

const char* pad_maps(const int64_t before[3], const int64_t L[3], const int64_t O[3], int mode, std::vector<int64_t> maps[3]) {
  for (int d = 0; d < 3; d++) {
    if (mode != 0 && L[d] < 1 && O[d] > 0) return "pad: an empty dim can only be padded with a constant";
    maps[d].resize(static_cast<size_t>(O[d]));
    for (int64_t o = 0; o < O[d]; o++) {
      const int64_t s = source(o, before[d], L[d], O[d], mode);
      if (s < -1 || s >= L[d] || (mode != 0 && s < 0)) return "pad: padding larger than the input allows for this mode";
      maps[d][o] = s;
    }
  }
  return nullptr;
}

// x: [outer, D, H, W] → y: [outer, OD, OH, OW]
void pad_forward(const PadMap& m, const float* x, float* y, float value) {
  const int64_t in = m.D * m.H * m.W, out = m.OD * m.OH * m.OW;
  parallel_for(m.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(out, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      const float* xp = x + p * in;
      float* yp = y + p * out;
      for (int64_t od = 0; od < m.OD; od++) {
        const int64_t sd = m.md[od];
        for (int64_t oh = 0; oh < m.OH; oh++) {
          const int64_t sh = m.mh[oh];
          float* yr = yp + (od * m.OH + oh) * m.OW;
          if (sd < 0 || sh < 0) {
            std::fill(yr, yr + m.OW, value);
            continue;
          }
          const float* xr = xp + (sd * m.H + sh) * m.W;
          for (int64_t ow = 0; ow < m.OW; ow++) {
            const int64_t sw = m.mw[ow];
            yr[ow] = sw < 0 ? value : xr[sw];
          }
        }
      }
    }
  });
}

// gx[src] += gy[out] for every output element copied from src (reflect,
// replicate and circular copy one input element to several outputs).
void pad_backward(const PadMap& m, const float* gy, float* gx) {
  const int64_t in = m.D * m.H * m.W, out = m.OD * m.OH * m.OW;
  parallel_for(m.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(out, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; p++) {
      float* gxp = gx + p * in;
      std::memset(gxp, 0, in * sizeof(float));
      const float* gyp = gy + p * out;
      for (int64_t od = 0; od < m.OD; od++) {
        const int64_t sd = m.md[od];
        if (sd < 0) continue;
        for (int64_t oh = 0; oh < m.OH; oh++) {
          const int64_t sh = m.mh[oh];
          if (sh < 0) continue;
          const float* gr = gyp + (od * m.OH + oh) * m.OW;
          float* xr = gxp + (sd * m.H + sh) * m.W;
          for (int64_t ow = 0; ow < m.OW; ow++) {
            const int64_t sw = m.mw[ow];
            if (sw >= 0) xr[sw] += gr[ow];
          }
        }
      }
    }
  });
}

}  // namespace blasnet
