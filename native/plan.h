// Compiled inference plans (the native half of src/plan/).
//
// A plan is a straight-line program over numbered value slots: slot 0 is the
// input, constant slots point into the session's ConstStore (the weights, one
// copy shared by every plan of a session), every other slot is a temporary
// allocated from the pool when its step runs and freed after its last use.
// Integer arguments are either constants or multiples of the batch size N
// (Arg::per_n), so one plan serves every batch size it was compiled for.
//
// Nothing here trusts the program it was given: plan_build.cc checks its
// structure when the plan is made (slot numbers, operand kinds, constant sizes),
// and every step re-checks its geometry against the sizes of its operands for
// the batch size of each run (plan_exec.cc), so a malformed program is a JS
// Error, never a read or write out of bounds.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace blasnet {
namespace plan {

// Step codes; keep in sync with src/plan/codes.ts.
enum Op {
  kConv = 0,     // in: x, w, b? | ints: geom[22] (N at 0) | epilogue
  kLinear,       // in: x, w, b? | ints: N, in, out | epilogue
  kEltwise,      // in: x | ints: n | epilogue (copy of x, then the epilogue)
  kBinary,       // in: a, b | ints: op, rank, shape[rank], a strides[rank], b strides[rank]
  kUnary,        // in: x | ints: op | reals: scalar
  kPermute,      // in: x | ints: rank, shape[rank], perm[rank]
  kReduceSum,    // in: x | ints: outer, size, inner | reals: scale
  kReduceMax,    // in: x | out: values, argmax? | ints: outer, size, inner
  kSoftmax,      // in: x | ints: outer, size, inner, log
  kMatmul,       // in: a, b | ints: batch, M, N, K, transA, transB, a batch stride, b batch stride
  kMaxPool,      // in: x | ints: geom[16] (+ dilation[3])
  kAvgPool,      // in: x | ints: geom[16], countIncludePad (+ divisorOverride)
  kAdaptiveAvg,  // in: x | ints: planes, H, W, OH, OW
  kBatchNorm,    // in: x, gamma?, beta?, mean, var | ints: N, C, S | reals: eps
  kFill,         // ints: n | reals: value
  kCopy,         // in: x | out numel = x numel
  kSumTo,        // in: x | ints: rank, shape[rank], out strides[rank], out numel
  kAxpy,         // in: dst, src | reals: alpha   (out = dst + alpha * src)
  kCat,          // in: parts... | ints: outer, inner sizes per part (part k: [outer, size_k * inner])
  kGather,       // in: x, idx... | ints: spec (below) — out[i] = x[offset + i·xstride + Σ idx_k(i)·xstride_k]
  kScatter,      // in: dst, src, idx... | ints: accumulate, spec — out = dst with src written (added) at the spec's positions
  kWhere,        // in: c, a, b | ints: rank, shape[rank], c/a/b strides[rank]
  kConvTranspose,  // in: x, w | ints: geom[22] of the adjoint convolution (N at 0): y = its input gradient
  kPad,          // in: x | ints: outer, L[3], O[3], before[3], mode | reals: value (nn.functional.pad)
  kAdaptive3d,   // in: x | ints: planes, D, H, W, OD, OH, OW, max (adaptive avg / max pools over 3 dims)
  kOpCount
};

// The spec of kGather / kScatter, as native.indexGather takes it (index.cc):
//   rank, shape[rank], xstride[rank], offset, count, per index tensor: stride[rank], xstride, size, wrap
// with the index tensors as the step's trailing operands, in order.

// Epilogue micro-ops, applied in order to the output of kConv / kLinear / kEltwise
// while it is in cache. Encoded after the step's own ints as
//   count, then per micro-op: kind, and
//     kEpAffine: (no ints) — takes 4 operands gamma?, beta?, mean, var and 1 real (eps)
//     kEpAdd:    other-first flag — takes 1 operand (same numel as the output)
//     kEpAct:    activation code — takes 1 real (slope for leaky ReLU)
//     kEpMaxPool / kEpAvgPool: geom[16] (+ countIncludePad for avg) — must come last
enum Epilogue { kEpAffine = 0, kEpAdd, kEpAct, kEpMaxPool, kEpAvgPool };
// Activation codes of kEpAct.
enum Act { kActRelu = 0, kActLeakyRelu };

struct Arg {
  int64_t v = 0;
  bool per_n = false;
  int64_t at(int64_t N) const { return per_n ? v * N : v; }
};

// A pool-allocated float buffer, shared by the plans that use it.
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t numel);
  ~Buf();
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};
using BufPtr = std::shared_ptr<const Buf>;

// The weights of a session: every plan of the session points into it.
struct ConstStore {
  std::vector<BufPtr> bufs;
  size_t bytes = 0;
};

enum SlotKind { kInput = 0, kConst, kTemp };
struct Slot {
  SlotKind kind = kTemp;
  Arg numel;
  BufPtr c;  // kConst
};

struct EpOp {
  int kind = 0;
  int flag = 0;          // kEpAdd: other first; kEpAct: activation; kEpAvgPool: countIncludePad
  float real = 0.f;      // kEpAct: slope; kEpAffine: eps
  int operand = -1;      // kEpAdd: slot of the other operand
  BufPtr scale, shift;   // kEpAffine: per-channel a, b precomputed as eager batch norm does
  std::vector<Arg> geom; // pools: 16 entries
};

// A conv step's constant weight packed for the direct kernels, made by the first
// run that needs it (plans run on any thread: call_once) and kept with the plan.
// key: the geometry it was packed for (C, Cout, groups, kh, kw); a run whose
// geometry differs packs its own copy.
struct DirectPack {
  std::once_flag once;
  std::vector<float> w;
  int64_t key[5] = {0, 0, 0, 0, 0};
};

struct Step {
  int op = 0;
  std::vector<int> in;   // -1: absent optional operand
  std::vector<int> out;  // -1: output not needed
  std::vector<Arg> ints;
  std::vector<float> reals;
  std::vector<EpOp> ep;
  std::vector<int> free_after;  // temporaries whose last use is this step
  std::shared_ptr<DirectPack> pack;  // kConv with a constant weight
};

struct Plan {
  std::shared_ptr<const ConstStore> store;  // keeps the weights alive while the plan is
  std::vector<Slot> slots;
  std::vector<Step> steps;
  int output = 0;
  int64_t fixed_n = 0;  // > 0: the only batch size this plan runs
  int64_t in_per_n = 0; // input elements per sample (polymorphic) or in total (fixed)
  size_t bytes = 0;     // plan-owned memory (epilogue tables)
  std::string describe;  // one line per step, for InferenceSession.explain()
};
using PlanPtr = std::shared_ptr<const Plan>;

// Builds a plan from its encoded program (plan_build.cc), checking its structure.
std::shared_ptr<Plan> build(std::shared_ptr<const ConstStore> store, const double* slots, size_t nslots, const double* prog, size_t nprog,
                            int64_t output, int64_t fixed_n);
// Batch norm folded into the convolution before it: new weight and bias.
std::pair<BufPtr, BufPtr> fold_conv_bn(const Buf& w, const Buf* bias, const Buf* gamma, const Buf* beta, const Buf& mean, const Buf& var, float eps);

// Elements of the input for batch N; throws Error when N does not fit the plan.
size_t input_numel(const Plan& p, int64_t N);
size_t output_numel(const Plan& p, int64_t N);
// Runs p on x (input_numel elements) and returns a pool buffer of output_numel
// elements, owned by the caller (pool_free). Pure C++: any thread.
float* run(const Plan& p, const float* x, int64_t N);

// The activation of kEpAct, as PyTorch defines it: relu(x) = x < 0 ? 0 : x, so
// NaN and -0 pass through; leaky_relu(x) = x > 0 ? x : x * slope.
inline float act(int code, float v, float s) { return code == kActRelu ? (v < 0.f ? 0.f : v) : (v > 0.f ? v : v * s); }

}  // namespace plan
}  // namespace blasnet
