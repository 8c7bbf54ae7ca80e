// Direct-convolution kernels for scalar (V = 1 floats a vector, 8 accumulators a
// block); compiled with this ISA's flags only (CMakeLists.txt) and called only
// when cpu.cc found the CPU runs it. The code is conv_direct_impl.h's.
#include <cstdint>
#include <cstring>

#include "conv_direct_kernels.h"

namespace blasnet {
namespace direct {
namespace {
#define BLASNET_DIRECT_V 1
#define BLASNET_DIRECT_ACC 8
#include "conv_direct_impl.h"
}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels k{"scalar", V, forward_kernel, wgrad_kernel, pair_max_kernel, kAcc};
  return k;
}

}  // namespace direct
}  // namespace blasnet
