// nn.functional.pad: constant / reflect / replicate / circular padding of the
// last (up to) three dims, forward and backward. The caller (binding_pad.cc)
// turns the mode and the pads into one source coordinate per output coordinate
// and dim (PadMap), checked to lie inside the input; here that map is applied.
#include <algorithm>
#include <cstring>

#include "kernels.h"

namespace blasnet {

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
