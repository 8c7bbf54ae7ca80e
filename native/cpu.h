// The CPU's vector ISA, detected once at load, and the convolution path the
// user forced with BLASNET_CONV (read once at load). Both are reported by
// backendInfo(); nothing else here is global state.
#pragma once

namespace blasnet {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
// The widest ISA this binary has kernels for AND this CPU (and OS, via XCR0) runs.
Isa cpu_isa();
const char* isa_name(Isa isa);

// BLASNET_CONV: auto (default: the heuristic picks per geometry), gemm (always
// im2col + sgemm) or direct (the direct kernels wherever they support the geometry).
enum class ConvMode { kAuto = 0, kGemm = 1, kDirect = 2 };
ConvMode conv_mode();
const char* conv_mode_name(ConvMode m);
// Throws Error when BLASNET_CONV holds anything else (surfaced at load).
void cpu_init();

}  // namespace blasnet
