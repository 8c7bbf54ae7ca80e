// Argument helpers shared by the binding files: unpack N-API arguments, check
// what could corrupt memory (sizes, overflow, index ranges) and turn kernel
// errors into JS Errors. Only the binding_*.cc files include this.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "binding.h"

namespace blasnet {
namespace bind {

using Napi::CallbackInfo;
using Napi::Value;

inline int64_t i64(const CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
    throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " must be an integer");
  return static_cast<int64_t>(d);
}
inline int64_t nonneg(const CallbackInfo& info, size_t i, const char* what) {
  int64_t v = i64(info, i, what);
  if (v < 0) throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " must be >= 0");
  return v;
}
inline float f32(const CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be a number");
  return static_cast<float>(v.As<Napi::Number>().DoubleValue());
}
inline bool boolean(const CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

inline std::vector<int64_t> ints(const CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsArray()) throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be an array");
  auto arr = v.As<Napi::Array>();
  if (arr.Length() > 64) throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " is too long");
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr.Get(k);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9007199254740991.0)
      throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " must hold non-negative integers");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

inline Storage* opt_storage(const CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return unwrap(info[i], what);
}

[[noreturn]] inline void fail(Napi::Env env, const std::string& msg) { throw Napi::Error::New(env, "blasnet native: " + msg); }

inline int64_t mul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 40)) fail(env, "size overflows");
  return r;
}
inline int64_t prod(Napi::Env env, const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (auto d : v) p = mul(env, p, d);
  return p;
}
inline void need(Napi::Env env, Storage* s, int64_t n, const char* what) {
  if (n < 0 || static_cast<uint64_t>(n) > s->numel)
    fail(env, std::string(what) + " has " + std::to_string(s->numel) + " elements but " + std::to_string(n) + " are needed");
}
inline void exact(Napi::Env env, Storage* s, int64_t n, const char* what) {
  if (static_cast<uint64_t>(n) != s->numel)
    fail(env, std::string(what) + " has " + std::to_string(s->numel) + " elements, expected " + std::to_string(n));
}
// elements reachable from offset 0 with these strides
inline int64_t span(Napi::Env env, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t s = 1;
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == 0) return 0;
    s += mul(env, shape[i] - 1, strides[i]);
  }
  return s;
}

inline Value out(Napi::Env env, size_t numel) { return wrap(env, new_storage(env, numel)); }

// Kernel errors (blasnet::Error) become JS Errors; napi errors pass through.
template <typename F>
inline Value guard(const CallbackInfo& info, F&& f) {
  try {
    return f(info.Env());
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "blasnet native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("blasnet native: ") + e.what());
  }
}
#define FN(name) Value name(const CallbackInfo& info) { return guard(info, [&](Napi::Env env) -> Value
#define END ); }

}  // namespace bind
}  // namespace blasnet
