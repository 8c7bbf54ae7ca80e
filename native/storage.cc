// Pooled, 64-byte aligned float32 allocator.
//
// Training allocates the same handful of sizes every step (activations,
// gradients, im2col workspaces). Returning freed blocks to exact-size free lists
// makes the steady state allocation-free and keeps RSS flat; the cache is bounded
// (default 256 MiB, BLASNET_POOL_LIMIT_MB) and trimmed oldest-size-first.
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace blasnet {
namespace {

constexpr size_t kAlign = 64;

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<float*>> free_lists;  // key: bytes
  size_t cached = 0;
  size_t live = 0;
  size_t limit = 256u << 20;
  Pool() {
    if (const char* env = std::getenv("BLASNET_POOL_LIMIT_MB")) {
      char* end = nullptr;
      unsigned long long mb = std::strtoull(env, &end, 10);
      if (end != env) limit = static_cast<size_t>(mb) << 20;
    }
  }
  void trim_to(size_t target) {  // mu held
    for (auto it = free_lists.begin(); it != free_lists.end() && cached > target;) {
      auto& v = it->second;
      while (!v.empty() && cached > target) {
        std::free(v.back());
        v.pop_back();
        cached -= it->first;
      }
      it = v.empty() ? free_lists.erase(it) : std::next(it);
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may free during exit
  return *p;
}

size_t bytes_for(size_t numel) {
  if (numel > (SIZE_MAX - kAlign) / sizeof(float)) throw Error("allocation of " + std::to_string(numel) + " floats overflows size_t");
  size_t b = numel * sizeof(float);
  return (b + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

float* pool_alloc(size_t numel) {
  size_t bytes = bytes_for(numel == 0 ? 1 : numel);
  Pool& P = pool();
  {
    std::lock_guard<std::mutex> lk(P.mu);
    auto it = P.free_lists.find(bytes);
    if (it != P.free_lists.end() && !it->second.empty()) {
      float* p = it->second.back();
      it->second.pop_back();
      P.cached -= bytes;
      P.live += bytes;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) {
    // Give back the cache and try once more before reporting.
    {
      std::lock_guard<std::mutex> lk(P.mu);
      P.trim_to(0);
    }
    p = std::aligned_alloc(kAlign, bytes);
    if (!p) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  }
  std::lock_guard<std::mutex> lk(P.mu);
  P.live += bytes;
  return static_cast<float*>(p);
}

void pool_free(float* p, size_t numel) {
  if (!p) return;
  size_t bytes = bytes_for(numel == 0 ? 1 : numel);
  Pool& P = pool();
  std::lock_guard<std::mutex> lk(P.mu);
  P.live -= bytes;
  if (bytes > P.limit) {
    std::free(p);
    return;
  }
  P.free_lists[bytes].push_back(p);
  P.cached += bytes;
  if (P.cached > P.limit) P.trim_to(P.limit / 2);
}

size_t pool_cached_bytes() {
  std::lock_guard<std::mutex> lk(pool().mu);
  return pool().cached;
}
size_t pool_live_bytes() {
  std::lock_guard<std::mutex> lk(pool().mu);
  return pool().live;
}
void pool_set_limit(size_t bytes) {
  std::lock_guard<std::mutex> lk(pool().mu);
  pool().limit = bytes;
  pool().trim_to(bytes);
}
void pool_trim() {
  std::lock_guard<std::mutex> lk(pool().mu);
  pool().trim_to(0);
}

}  // namespace blasnet
