// The N-API boundary. Every function unpacks its arguments, checks what could
// corrupt memory (handle validity, buffer sizes, index ranges, overflow) and
// calls a kernel. Shape logic and user-facing validation live in TypeScript;
// anything that slips through becomes a JS Error here, never an abort.
#include <cblas.h>
#include <napi.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "binding_args.h"
#include "conv_direct.h"
#include "cpu.h"
#include "kernels.h"

namespace blasnet {

const napi_type_tag kStorageTag = {0x6a1f3c2b9d4e5f60ULL, 0x8b7c6d5e4f3a2b1cULL};

// ---------------------------------------------------------------------------
// handles

static void release_memory(Napi::Env env, Storage* s) {
  pool_free(s->data, s->numel);
  s->data = nullptr;
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(s->numel * sizeof(float)));
}

// A handle is a plain object wrapping the Storage. dispose() removes the wrap
// (napi_remove_wrap), which also cancels its GC finalizer: a disposed tensor
// leaves nothing queued for the finalizer thread, so a tight synchronous loop
// of allocate/dispose stays flat. A forgotten one is freed by the finalizer.
Napi::Value wrap(Napi::Env env, Storage* s) {
  Napi::Object o = Napi::Object::New(env);
  napi_status st = napi_wrap(
      env, o, s,
      [](napi_env e, void* data, void*) {
        auto* st = static_cast<Storage*>(data);
        release_memory(Napi::Env(e), st);
        delete st;
      },
      nullptr, nullptr);
  if (st != napi_ok) {
    release_memory(env, s);
    delete s;
    throw Napi::Error::New(env, "blasnet native: could not wrap a tensor storage");
  }
  napi_type_tag_object(env, o, &kStorageTag);
  return o;
}

Storage* new_storage(Napi::Env env, size_t numel) {
  if (numel > kMaxTensorNumel)
    throw Error("a tensor of " + std::to_string(numel) + " elements is more than the " + std::to_string(kMaxTensorNumel) +
                " one tensor may hold");
  auto* s = new Storage();
  try {
    s->data = pool_alloc(numel);
  } catch (...) {
    delete s;
    throw;
  }
  s->numel = numel;
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(numel * sizeof(float)));
  return s;
}

Storage* unwrap(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  bool ok = false;
  if (v.IsObject()) napi_check_object_type_tag(env, v, &kStorageTag, &ok);
  if (!ok) throw Napi::TypeError::New(env, std::string("blasnet native: ") + what + " is not a tensor storage handle");
  void* p = nullptr;
  if (napi_unwrap(env, v, &p) != napi_ok || !p)
    throw Napi::Error::New(env, std::string("blasnet native: ") + what + " belongs to a disposed tensor");
  return static_cast<Storage*>(p);
}

float* data_of(const Napi::Value& v) {  // a handle this file just made
  void* p = nullptr;
  napi_unwrap(v.Env(), v, &p);
  return static_cast<Storage*>(p)->data;
}

namespace {
using namespace bind;

// ---------------------------------------------------------------------------
// storage

FN(Alloc) {
  int64_t n = nonneg(info, 0, "numel");
  if (n > (int64_t{1} << 34)) fail(env, "alloc of " + std::to_string(n) + " elements is too large");
  Storage* s = new_storage(env, n);
  if (info.Length() > 1 && info[1].IsNumber()) fill(s->data, n, f32(info, 1, "fill value"));
  return wrap(env, s);
} END

FN(FromArray) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "blasnet native: fromArray expects a Float32Array");
  auto a = info[0].As<Napi::Float32Array>();
  Storage* s = new_storage(env, a.ElementLength());
  if (a.ElementLength()) std::memcpy(s->data, a.Data(), a.ElementLength() * sizeof(float));
  return wrap(env, s);
} END

FN(ToArray) {
  Storage* s = unwrap(info[0], "tensor");
  auto a = Napi::Float32Array::New(env, s->numel);
  if (s->numel) std::memcpy(a.Data(), s->data, s->numel * sizeof(float));
  return a;
} END

FN(WriteArray) {  // copy a Float32Array into an existing storage
  Storage* s = unwrap(info[0], "tensor");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "blasnet native: writeArray expects a Float32Array");
  auto a = info[1].As<Napi::Float32Array>();
  exact(env, s, a.ElementLength(), "destination");
  if (a.ElementLength()) std::memcpy(s->data, a.Data(), a.ElementLength() * sizeof(float));
  return env.Undefined();
} END

FN(ReadAt) {
  Storage* s = unwrap(info[0], "tensor");
  int64_t i = nonneg(info, 1, "index");
  need(env, s, i + 1, "tensor");
  return Napi::Number::New(env, s->data[i]);
} END

FN(Free) {  // idempotent; anything that is not a live handle is ignored
  bool ok = false;
  if (info[0].IsObject()) napi_check_object_type_tag(env, info[0], &kStorageTag, &ok);
  void* p = nullptr;
  if (ok && napi_remove_wrap(env, info[0], &p) == napi_ok && p) {
    auto* s = static_cast<Storage*>(p);
    release_memory(env, s);
    delete s;
  }
  return env.Undefined();
} END

FN(Clone) {
  Storage* s = unwrap(info[0], "tensor");
  Storage* o = new_storage(env, s->numel);
  if (s->numel) std::memcpy(o->data, s->data, s->numel * sizeof(float));
  return wrap(env, o);
} END

FN(CopyInto) {  // dst[:] = src[:]
  Storage* d = unwrap(info[0], "destination");
  Storage* s = unwrap(info[1], "source");
  exact(env, d, s->numel, "destination");
  if (s->numel) std::memcpy(d->data, s->data, s->numel * sizeof(float));
  return env.Undefined();
} END

// ---------------------------------------------------------------------------
// backend

std::string simd_level() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  if (__builtin_cpu_supports("avx")) return "avx";
  if (__builtin_cpu_supports("sse4.2")) return "sse4.2";
  return "sse2";
#elif defined(__aarch64__)
  return "neon";
#else
  return "scalar";
#endif
}

FN(BackendInfo) {
  auto o = Napi::Object::New(env);
  std::string config = openblas_get_config();
  std::string version = "OpenBLAS";
  auto sp = config.find(' ', 9);
  version = config.substr(0, sp == std::string::npos ? config.size() : sp);
  o.Set("blas", version);
  o.Set("blasConfig", config);
  o.Set("core", std::string(openblas_get_corename()));
  o.Set("threads", num_threads());
  o.Set("blasThreads", openblas_get_num_threads());
  o.Set("simd", simd_level());
  o.Set("convIsa", direct::active().name);
  o.Set("convMode", conv_mode_name(conv_mode()));
  return o;
} END

FN(SetNumThreads) {
  set_num_threads(static_cast<int>(i64(info, 0, "threads")));
  return env.Undefined();
} END

FN(GetNumThreads) { return Napi::Number::New(env, num_threads()); } END

FN(MemoryInfo) {
  auto o = Napi::Object::New(env);
  o.Set("liveBytes", static_cast<double>(pool_live_bytes()));
  o.Set("cachedBytes", static_cast<double>(pool_cached_bytes()));
  return o;
} END

FN(PoolTrim) {
  pool_trim();
  return env.Undefined();
} END

FN(PoolSetLimit) {
  pool_set_limit(static_cast<size_t>(nonneg(info, 0, "bytes")));
  return env.Undefined();
} END

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("alloc", Alloc);
  EXPORT("fromArray", FromArray);
  EXPORT("toArray", ToArray);
  EXPORT("writeArray", WriteArray);
  EXPORT("readAt", ReadAt);
  EXPORT("free", Free);
  EXPORT("clone", Clone);
  EXPORT("copyInto", CopyInto);
  EXPORT("backendInfo", BackendInfo);
  EXPORT("setNumThreads", SetNumThreads);
  EXPORT("getNumThreads", GetNumThreads);
  EXPORT("memoryInfo", MemoryInfo);
  EXPORT("poolTrim", PoolTrim);
  EXPORT("poolSetLimit", PoolSetLimit);
#undef EXPORT
  try {
    cpu_init();  // a bad BLASNET_CONV / BLASNET_CONV_ISA is the load's Error
  } catch (const Error& e) {
    throw Napi::Error::New(env, e.what());
  }
  init_tensor(env, exports);
  init_conv(env, exports);
  init_pool(env, exports);
  init_pad(env, exports);
  init_train(env, exports);
  init_plan(env, exports);
  init_index(env, exports);
  num_threads();  // start the pool and pin OpenBLAS to one thread now
  return exports;
}

}  // namespace
}  // namespace blasnet

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return blasnet::Init(env, exports); }
NODE_API_MODULE(blasnet, InitModule)

