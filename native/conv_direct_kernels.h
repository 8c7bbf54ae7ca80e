// The table of one ISA's direct-convolution kernels (see conv_direct.h). This
// header is all that conv_direct_<isa>.cc see: nothing with external linkage may
// be compiled there with wider-ISA flags than the CPU may have.
#pragma once
#include <cstdint>

namespace blasnet {
namespace direct {

// One ISA's kernels.
struct Kernels {
  const char* name;
  int V;  // floats per vector
  // yw[c*Lw + q] for c < cob, q < Lw (Lw a multiple of V) =
  //   (bias ? bias[c] : 0) + sum_{ci < Cg} sum_{t < taps} wp[(ci*taps + t)*cob + c] * xp[ci*plane + q + off[t]]
  void (*forward)(const float* xp, int64_t plane, int64_t Cg, const int64_t* off, int64_t taps, const float* wp,
                  int64_t cob, const float* bias, float* yw, int64_t Lw);
  // For c < cob (<= 4), k < nk:  acc[c*nk + k] += sum over samples s < ns, q < Lw of
  //   gyw[s*gn + c*gstride + q] * xr[s*xn + q + k*dw]      (Lw a multiple of V)
  void (*wgrad)(const float* gyw, int64_t gstride, int64_t gn, int64_t cob, const float* xr, int64_t xn, int64_t dw,
                int64_t nk, int64_t Lw, int64_t ns, float* acc);
  // h[q] = s[q+1] > s[q] ? s[q+1] : s[q] for q < n (s read on [0, n]); nonzero when s holds a NaN
  int (*pair_max)(const float* s, float* h, int64_t n);
  int acc;  // accumulator registers a block may hold (picks the blocking)
};
const Kernels& scalar_kernels();
const Kernels& avx2_kernels();    // only called when the CPU has AVX2+FMA
const Kernels& avx512_kernels();  // only called when the CPU has AVX-512F

}  // namespace direct
}  // namespace blasnet
