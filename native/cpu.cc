// Runtime CPU dispatch: which ISA's kernels run is decided here from cpuid and
// xgetbv (the OS must save the wide registers), never from compile flags, so the
// one prebuilt binary runs on any x86-64. Non-x86 builds have only the scalar twin.
#include "cpu.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BLASNET_X86 1
#endif

namespace blasnet {
namespace {

Isa detect() {
#ifdef BLASNET_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::kScalar;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
  if (!osxsave || !avx) return Isa::kScalar;
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool ymm = (xlo & 0x6) == 0x6;      // SSE and AVX state
  const bool zmm = (xlo & 0xe6) == 0xe6;    // plus opmask and the upper zmm halves
  if (!ymm || __get_cpuid_max(0, nullptr) < 7) return Isa::kScalar;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
  if (avx512f && zmm && fma) return Isa::kAvx512;
  if (avx2 && fma) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

std::string g_mode_error;
Isa g_isa = detect();
ConvMode g_mode = ConvMode::kAuto;

ConvMode read_mode() {
  const char* v = std::getenv("BLASNET_CONV");
  if (!v || !*v || !std::strcmp(v, "auto")) return ConvMode::kAuto;
  if (!std::strcmp(v, "gemm")) return ConvMode::kGemm;
  if (!std::strcmp(v, "direct")) return ConvMode::kDirect;
  g_mode_error = std::string("BLASNET_CONV must be auto, gemm or direct, got '") + v + "'";
  return ConvMode::kAuto;
}
// BLASNET_CONV_ISA=scalar|avx2|avx512 caps the ISA (tests compare the scalar twin
// with the SIMD kernels); it can only lower the choice, never pass the CPU.
Isa read_isa_cap(Isa best) {
  const char* v = std::getenv("BLASNET_CONV_ISA");
  if (!v || !*v) return best;
  Isa want = best;
  if (!std::strcmp(v, "scalar")) want = Isa::kScalar;
  else if (!std::strcmp(v, "avx2")) want = Isa::kAvx2;
  else if (!std::strcmp(v, "avx512")) want = Isa::kAvx512;
  else g_mode_error = std::string("BLASNET_CONV_ISA must be scalar, avx2 or avx512, got '") + v + "'";
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}
struct ReadOnce {
  ReadOnce() {
    g_mode = read_mode();
    g_isa = read_isa_cap(g_isa);
  }
} read_once;

}  // namespace

Isa cpu_isa() { return g_isa; }
const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "scalar";
  }
}
ConvMode conv_mode() { return g_mode; }
const char* conv_mode_name(ConvMode m) {
  switch (m) {
    case ConvMode::kGemm: return "gemm";
    case ConvMode::kDirect: return "direct";
    default: return "auto";
  }
}
void cpu_init() {
  if (!g_mode_error.empty()) throw Error(g_mode_error);
}

}  // namespace blasnet
