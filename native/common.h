// Shared definitions for blasnet's native core: storage, errors, threading.
// Nothing here depends on Node; the binding (binding.cc) is the only file that does.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace blasnet {

// A kernel-level error: the binding turns it into a JS Error, never an abort.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The most elements one tensor may hold (src/tensor.ts MAX_NUMEL, 2^31 - 1): every op checks its output shape
// against it in TypeScript; new_storage (binding.cc) is the net under them.
constexpr size_t kMaxTensorNumel = 2147483647;

// ---------------------------------------------------------------------------
// Storage: a 64-byte aligned float32 buffer from the pooled allocator, owned by
// one JS handle (see binding.cc).
struct Storage {
  float* data = nullptr;
  size_t numel = 0;
};

// Pooled allocator: exact-size free lists, bounded in total cached bytes.
float* pool_alloc(size_t numel);       // uninitialised, 64-byte aligned; throws Error on failure
void pool_free(float* p, size_t numel);
size_t pool_cached_bytes();
size_t pool_live_bytes();
void pool_set_limit(size_t bytes);
void pool_trim();

// ---------------------------------------------------------------------------
// Threading: one pool of worker threads shared by every kernel. OpenBLAS runs
// single-threaded inside each worker (see parallel.cc for the policy).
int num_threads();
void set_num_threads(int n);
// Runs fn(begin, end) over [0, n) split in at most num_threads() chunks of at
// least `grain` items. Runs inline when nested or when another caller owns the pool.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// sgemm on row-major matrices, C = alpha * op(A) op(B) + beta * C, split over
// the thread pool when large. op(A): M x K, op(B): K x N, C: M x N.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          bool allow_parallel = true);

// Scratch buffer from the pool, released on scope exit.
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  explicit Scratch(size_t numel) : p(numel ? pool_alloc(numel) : nullptr), n(numel) {}
  ~Scratch() {
    if (p) pool_free(p, n);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

}  // namespace blasnet
