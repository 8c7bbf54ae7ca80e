// One thread pool for every kernel, and the GEMM split policy.
//
// Policy (measured on LeNet-sized layers, see bench/): OpenBLAS is kept at one
// thread and blasnet parallelises above it. Small convolutions split the batch
// across workers, each running a single-threaded sgemm on its own im2col
// workspace; a large lone GEMM is split into column (or row) panels, one per
// worker. This avoids OpenBLAS's own threads spinning against ours, and makes
// concurrent callers (async inference) safe: single-threaded sgemm calls on
// different threads do not share state.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BLASNET_PAUSE() _mm_pause()
#else
#define BLASNET_PAUSE() std::this_thread::yield()
#endif

#include "common.h"

namespace blasnet {
namespace {

thread_local bool tl_in_parallel = false;

// How long an idle worker spins for the next job before it sleeps.
constexpr std::chrono::microseconds kSpin{50};
// Chunks a job is cut into per thread, at most (dynamic load balance).
constexpr int kChunksPerThread = 4;
// A lone GEMM (batch 1) is split into panels from this many flops. ResNet-8's
// 3×3 convolutions at 32² are 2.4-4.7 MFLOP, so at batch 1 they run on one
// thread; 2 MFLOP was tried and made batch-1 ResNet-8 1.5-3× slower on a
// 2-core machine shared with other processes (the second core is rarely free
// within a step's few hundred microseconds). Splitting work at batch 1 pays
// only where cores are idle: measure before lowering it.
constexpr double kSplitFlops = 8.0e6;

class ThreadPool {
 public:
  explicit ThreadPool(int n) { start(n); }

  int size() const { return size_; }

  void resize(int n) {
    claim();
    stop_workers();
    start(n);
    busy_.store(false, std::memory_order_release);
  }

  // Returns false (and runs nothing) when the pool is owned by another caller.
  bool try_run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return false;
    // Up to kChunksPerThread chunks a thread, claimed dynamically: a worker that
    // wakes late (or is descheduled on a busy machine) leaves its share to the
    // others instead of making them wait. Kernels are written so that results
    // do not depend on where chunks start (they run serially as well, when the
    // pool is busy), so this changes speed only.
    int chunks = static_cast<int>(std::min<int64_t>(int64_t{size_} * kChunksPerThread, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1))));
    if (chunks <= 1) {
      busy_.store(false, std::memory_order_release);
      return false;
    }
    n_ = n;
    chunks_ = chunks;
    error_ = nullptr;
    next_.store(0, std::memory_order_relaxed);
    remaining_.store(chunks, std::memory_order_relaxed);
    fn_.store(&fn);
    {
      std::lock_guard<std::mutex> lk(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work();
    wait_until([&] { return remaining_.load(std::memory_order_acquire) <= 0; });
    // A worker that woke late may still be looking at this job: wait until it
    // has seen that nothing is left before the job's state is reused.
    fn_.store(nullptr);
    wait_until([&] { return active_.load() <= 0; });
    std::exception_ptr err = error_;
    busy_.store(false, std::memory_order_release);
    if (err) std::rethrow_exception(err);
    return true;
  }

 private:
  // Spins briefly for `done`, then yields the core: on a machine with more
  // runnable threads than cores, the thread being waited for may be the one
  // that needs it.
  template <typename F>
  static void wait_until(F&& done) {
    for (int i = 0; i < 2048; i++) {
      if (done()) return;
      BLASNET_PAUSE();
    }
    while (!done()) std::this_thread::yield();
  }

  void claim() {
    bool expected = false;
    while (!busy_.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
      expected = false;
      std::this_thread::yield();
    }
  }

  void start(int n) {
    size_ = std::max(1, n);
    stop_ = false;
    // A worker must start from the generation current now: a thread scheduled
    // late must still see a stop (or job) issued before it first ran.
    const uint64_t gen = generation_.load();
    for (int i = 1; i < size_; i++) workers_.emplace_back([this, gen] { loop(gen); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  // Claims chunks until none are left.
  void work() {
    tl_in_parallel = true;
    for (;;) {
      int c = next_.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks_) break;
      int64_t b = n_ * c / chunks_, e = n_ * (c + 1) / chunks_;
      try {
        (*fn_.load())(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu_);
        if (!error_) error_ = std::current_exception();
      }
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
    tl_in_parallel = false;
  }

  void loop(uint64_t seen) {
    for (;;) {
      // Spin briefly: steps issue kernels back to back, and waking from a
      // condition variable costs tens of microseconds. The spin is bounded in
      // time (kSpin), not in pauses (a pause is 10-150 cycles depending on
      // the CPU): 20,000 pauses kept every worker busy for up to a millisecond
      // after each job, taking the cores from the threads with work to do in
      // bursts of small runs and on machines shared with other processes.
      if (generation_.load(std::memory_order_acquire) == seen) {
        const auto until = std::chrono::steady_clock::now() + kSpin;
        for (int i = 1; generation_.load(std::memory_order_acquire) == seen; i++) {
          BLASNET_PAUSE();
          if ((i & 63) == 0 && std::chrono::steady_clock::now() >= until) break;
        }
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      active_.fetch_add(1);
      if (generation_.load() == seen && fn_.load() != nullptr) work();
      active_.fetch_sub(1);
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_, err_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> busy_{false};
  bool stop_ = false;
  std::atomic<const std::function<void(int64_t, int64_t)>*> fn_{nullptr};
  std::atomic<int> active_{0};
  int64_t n_ = 0;
  int chunks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> remaining_{0};
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("BLASNET_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(std::min(hc, 256u)) : 1;
}

ThreadPool& thread_pool() {
  static ThreadPool* p = [] {
    openblas_set_num_threads(1);
    return new ThreadPool(default_threads());
  }();
  return *p;
}

}  // namespace

int num_threads() { return thread_pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > 256) throw Error("setNumThreads: expected an integer in [1, 256], got " + std::to_string(n));
  if (n == thread_pool().size()) return;
  thread_pool().resize(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (tl_in_parallel || n <= grain || !thread_pool().try_run(n, grain, fn)) fn(0, n);
}

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool allow_parallel) {
  if (M <= 0 || N <= 0) return;
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  if (K <= 0) {  // C = beta * C
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  const double flops = 2.0 * M * N * K;
  const int T = num_threads();
  if (!allow_parallel || T <= 1 || flops < kSplitFlops) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the larger output dimension into T panels aligned to 16 (one AVX-512
  // vector). The panels depend only on the shape and T, and run serially when
  // the pool is busy, so every element is computed by the same sgemm call either
  // way: results are bitwise identical on any thread, sync or async.
  const bool split_n = N >= M;
  const int64_t dim = split_n ? N : M;
  const int64_t units = std::max<int64_t>(1, dim / 16);
  const int64_t chunks = std::min<int64_t>(T, units);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const int64_t a = units * c / chunks * 16, b = c + 1 == chunks ? dim : units * (c + 1) / chunks * 16;
      if (split_n) {
        const float* Bp = transB ? B + a * ldb : B + a;
        cblas_sgemm(CblasRowMajor, ta, tb, M, b - a, K, alpha, A, lda, Bp, ldb, beta, C + a, ldc);
      } else {
        const float* Ap = transA ? A + a : A + a * lda;
        cblas_sgemm(CblasRowMajor, ta, tb, b - a, N, K, alpha, Ap, lda, B, ldb, beta, C + a * ldc, ldc);
      }
    }
  });
}

}  // namespace blasnet
