// Direct convolution (no im2col) for small channel counts and small images:
// LeNet-style layers, where lowering moves more memory than the GEMM computes.
//
// The trick that keeps every inner loop a run of full vectors ("wide" planes):
// each input plane is copied once, zero-padded, into rows of Wp = OW + (kw-1)*dw
// floats; then output position q = oh*Wp + ow reads the padded plane at
// q + ky*dh*Wp + kx*dw for every tap — one contiguous vector load per tap for
// V consecutive outputs, whatever the row boundaries. The columns ow >= OW of
// the wide output are computed and thrown away ((kw-1)/Wp of the work).
//
//   forward:       y[co, q]  = bias[co] + sum_{ci, tap} w[co, ci, tap] * xpad[ci, q + off(tap)]
//   grad-input:    the same kernel on gy padded by (k-1)*d - p, with the weight
//                  transposed per group and flipped (a stride-1 transposed convolution)
//   grad-weight:   gw[co, ci, tap] = sum_{n, q} gyw[n, co, q] * xpad[n, ci, q + off(tap)]
//                  (gyw: gy in wide rows, zero in the thrown-away columns)
//
// Register blocking as MLAS's NCHWc SconvKernel: a block of COB output channels ×
// QV vectors of outputs stays in registers across all input channels and taps;
// each tap loads QV input vectors and broadcasts COB weights.
// Supported: 1-D and 2-D (D = kd = 1), any padding, dilation and groups; the forward
// takes strides up to 4 (as phase planes, see Corr in conv_direct.cc), the gradients stride 1.
// Everything else (and anything the heuristic prefers GEMM for) runs conv.cc's GEMM path.
//
// Kernels per ISA live in conv_direct_<isa>.cc, each compiled with its own
// flags (CMakeLists.txt) from the one template in conv_direct_impl.h; the
// scalar twin is the same template at vector width 1.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "conv_direct_kernels.h"
#include "kernels.h"

namespace blasnet {
namespace direct {

// The kernels chosen at load from cpu_isa().
const Kernels& active();

// Whether the direct kernels can run g at all / are chosen for g (BLASNET_CONV and the heuristic).
bool supported(const ConvGeom& g);
bool chosen(const ConvGeom& g);

// The forward weight packed for the direct kernels (it depends on g's channels and
// kernel, not on g.N): compiled plans pack their constant weights once and pass the
// result to forward / forward_relu_pool. Empty when g is not chosen.
std::vector<float> pack_forward_weights(const ConvGeom& g, const float* w);

// Called for each output plane (n, o) of y [N, Cout, OH*OW] as soon as it is written,
// from the thread that wrote it (a plan's epilogue, applied while the plane is in cache).
using PlaneHook = std::function<void(int64_t n, int64_t o, float* plane)>;

// Each returns false (having done nothing) when g is not chosen for the direct path.
// packed: pack_forward_weights(g, w), or null to pack here; hook: may be null.
bool forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
             const float* packed = nullptr, const PlaneHook* hook = nullptr);
// backward computes the gradients it is chosen for and sets their pointers to null;
// it returns true when none is left for the GEMM path.
bool backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float*& gx, float*& gw, float*& gb);

// Fused forward: conv + bias, then ReLU (NaN stays NaN) when relu, then the 2×2
// stride-2 max pool (floor mode; NaN propagates, ties keep the first) into
// y [N, Cout, OH/2, OW/2]; idx (may be null) gets each max's position in the
// conv output plane, as max_pool_forward's. Runs the direct kernels when chosen,
// else conv_forward and the pool; always succeeds.
void forward_relu_pool(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                       int32_t* idx, bool relu, const float* packed = nullptr);

}  // namespace direct
}  // namespace blasnet
