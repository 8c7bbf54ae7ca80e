// Direct-convolution kernels for avx2 (V = 8 floats a vector, 12 accumulators a
// block); compiled with this ISA's flags only (CMakeLists.txt) and called only
// when cpu.cc found the CPU runs it. The code is conv_direct_impl.h's.
#include <cstdint>
#include <cstring>

#include "conv_direct_kernels.h"

namespace blasnet {
namespace direct {
#if defined(__x86_64__) || defined(__i386__)
namespace {
#define BLASNET_DIRECT_V 8
#define BLASNET_DIRECT_ACC 12
#include "conv_direct_impl.h"
}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels k{"avx2", V, forward_kernel, wgrad_kernel, pair_max_kernel, kAcc};
  return k;
}
#else
// Not an x86 build: cpu.cc never picks this ISA.
const Kernels& avx2_kernels() { return scalar_kernels(); }
#endif

}  // namespace direct
}  // namespace blasnet
