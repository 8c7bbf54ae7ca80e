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

#include "binding.h"
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

using Napi::CallbackInfo;
using Napi::Value;

// ---------------------------------------------------------------------------
// argument helpers

int64_t i64(const CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
    throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " must be an integer");
  return static_cast<int64_t>(d);
}
int64_t nonneg(const CallbackInfo& info, size_t i, const char* what) {
  int64_t v = i64(info, i, what);
  if (v < 0) throw Napi::RangeError::New(info.Env(), std::string("blasnet native: ") + what + " must be >= 0");
  return v;
}
float f32(const CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be a number");
  return static_cast<float>(v.As<Napi::Number>().DoubleValue());
}
bool boolean(const CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

std::vector<int64_t> ints(const CallbackInfo& info, size_t i, const char* what) {
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

Storage* opt_storage(const CallbackInfo& info, size_t i, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return unwrap(info[i], what);
}

[[noreturn]] void fail(Napi::Env env, const std::string& msg) { throw Napi::Error::New(env, "blasnet native: " + msg); }

int64_t mul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 40)) fail(env, "size overflows");
  return r;
}
int64_t prod(Napi::Env env, const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (auto d : v) p = mul(env, p, d);
  return p;
}
void need(Napi::Env env, Storage* s, int64_t n, const char* what) {
  if (n < 0 || static_cast<uint64_t>(n) > s->numel)
    fail(env, std::string(what) + " has " + std::to_string(s->numel) + " elements but " + std::to_string(n) + " are needed");
}
void exact(Napi::Env env, Storage* s, int64_t n, const char* what) {
  if (static_cast<uint64_t>(n) != s->numel)
    fail(env, std::string(what) + " has " + std::to_string(s->numel) + " elements, expected " + std::to_string(n));
}
// elements reachable from offset 0 with these strides
int64_t span(Napi::Env env, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t s = 1;
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == 0) return 0;
    s += mul(env, shape[i] - 1, strides[i]);
  }
  return s;
}

Value out(Napi::Env env, size_t numel) { return wrap(env, new_storage(env, numel)); }

// Kernel errors (blasnet::Error) become JS Errors; napi errors pass through.
template <typename F>
Value guard(const CallbackInfo& info, F&& f) {
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
// elementwise

FN(Binary) {
  int op = static_cast<int>(i64(info, 0, "op"));
  Storage* a = unwrap(info[1], "a");
  Storage* b = unwrap(info[2], "b");
  auto shape = ints(info, 3, "shape"), as = ints(info, 4, "a strides"), bs = ints(info, 5, "b strides");
  if (as.size() != shape.size() || bs.size() != shape.size()) fail(env, "binary: strides and shape differ in rank");
  int64_t n = prod(env, shape);
  need(env, a, span(env, shape, as), "a");
  need(env, b, span(env, shape, bs), "b");
  Storage* o = new_storage(env, n);
  Value h = wrap(env, o);
  binary(op, a->data, b->data, o->data, shape, as, bs);
  return h;
} END

FN(Unary) {
  int op = static_cast<int>(i64(info, 0, "op"));
  Storage* x = unwrap(info[1], "x");
  float s = info.Length() > 2 && info[2].IsNumber() ? f32(info, 2, "scalar") : 0.f;
  Value h = out(env, x->numel);
  unary(op, x->data, data_of(h), x->numel, s);
  return h;
} END

FN(UnaryInplace) {
  int op = static_cast<int>(i64(info, 0, "op"));
  Storage* x = unwrap(info[1], "x");
  float s = info.Length() > 2 && info[2].IsNumber() ? f32(info, 2, "scalar") : 0.f;
  unary(op, x->data, x->data, x->numel, s);
  return env.Undefined();
} END

FN(ActivationBackward) {
  int op = static_cast<int>(i64(info, 0, "op"));
  Storage* gy = unwrap(info[1], "grad");
  Storage* y = unwrap(info[2], "output");
  exact(env, y, gy->numel, "output");
  Value h = out(env, gy->numel);
  activation_backward(op, gy->data, y->data, data_of(h), gy->numel);
  return h;
} END

FN(SumTo) {
  Storage* x = unwrap(info[0], "x");
  auto shape = ints(info, 1, "shape"), os = ints(info, 2, "out strides");
  int64_t on = nonneg(info, 3, "out numel");
  if (os.size() != shape.size()) fail(env, "sumTo: strides and shape differ in rank");
  exact(env, x, prod(env, shape), "x");
  if (span(env, shape, os) > on) fail(env, "sumTo: output too small");
  Value h = out(env, on);
  sum_to(x->data, data_of(h), on, shape, os);
  return h;
} END

FN(Axpy) {  // dst += alpha * src (in place)
  Storage* d = unwrap(info[0], "destination");
  Storage* s = unwrap(info[1], "source");
  exact(env, d, s->numel, "destination");
  axpy(d->data, s->data, s->numel, f32(info, 2, "alpha"));
  return env.Undefined();
} END

FN(Fill) {
  Storage* d = unwrap(info[0], "destination");
  fill(d->data, d->numel, f32(info, 1, "value"));
  return env.Undefined();
} END

FN(Permute) {
  Storage* x = unwrap(info[0], "x");
  auto shape = ints(info, 1, "shape"), perm = ints(info, 2, "perm");
  if (perm.size() != shape.size()) fail(env, "permute: perm and shape differ in rank");
  std::vector<bool> seen(perm.size());
  for (auto p : perm) {
    if (p >= static_cast<int64_t>(perm.size()) || seen[p]) fail(env, "permute: not a permutation");
    seen[p] = true;
  }
  exact(env, x, prod(env, shape), "x");
  Value h = out(env, x->numel);
  permute(x->data, data_of(h), shape, perm);
  return h;
} END

FN(IndexRows) {
  Storage* x = unwrap(info[0], "x");
  int64_t row = nonneg(info, 1, "row size");
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(env, "blasnet native: indexRows expects an Int32Array of indices");
  auto idx = info[2].As<Napi::Int32Array>();
  if (row == 0) fail(env, "indexRows: row size is 0");
  int64_t rows = static_cast<int64_t>(x->numel) / row, n = idx.ElementLength();
  const int32_t* ip = idx.Data();
  for (int64_t i = 0; i < n; i++)
    if (ip[i] < 0 || ip[i] >= rows) fail(env, "indexRows: index " + std::to_string(ip[i]) + " out of range [0, " + std::to_string(rows) + ")");
  Value h = out(env, mul(env, n, row));
  index_rows(x->data, data_of(h), row, ip, n);
  return h;
} END

FN(RandomFill) {
  int64_t n = nonneg(info, 0, "numel");
  uint64_t hi = static_cast<uint32_t>(i64(info, 1, "key")), lo = static_cast<uint32_t>(i64(info, 2, "key"));
  Value h = out(env, n);
  random_fill(data_of(h), n, (hi << 32) | lo, boolean(info, 3), f32(info, 4, "a"),
              f32(info, 5, "b"));
  return h;
} END

// ---------------------------------------------------------------------------
// reductions

FN(ReduceSum) {
  Storage* x = unwrap(info[0], "x");
  int64_t o = nonneg(info, 1, "outer"), s = nonneg(info, 2, "size"), in = nonneg(info, 3, "inner");
  exact(env, x, mul(env, mul(env, o, s), in), "x");
  Value h = out(env, mul(env, o, in));
  reduce_sum(x->data, data_of(h), o, s, in, f32(info, 4, "scale"));
  return h;
} END

FN(ReduceMax) {
  Storage* x = unwrap(info[0], "x");
  int64_t o = nonneg(info, 1, "outer"), s = nonneg(info, 2, "size"), in = nonneg(info, 3, "inner");
  if (s == 0) fail(env, "max: reduction over an empty dimension");
  exact(env, x, mul(env, mul(env, o, s), in), "x");
  Value v = out(env, mul(env, o, in));
  Value a = boolean(info, 4) ? out(env, mul(env, o, in)) : env.Null();
  reduce_max(x->data, data_of(v),
             a.IsNull() ? nullptr : data_of(a), o, s, in);
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, v);
  r.Set(1u, a);
  return r;
} END

FN(Softmax) {
  Storage* x = unwrap(info[0], "x");
  int64_t o = nonneg(info, 1, "outer"), s = nonneg(info, 2, "size"), in = nonneg(info, 3, "inner");
  exact(env, x, mul(env, mul(env, o, s), in), "x");
  Value h = out(env, x->numel);
  softmax(x->data, data_of(h), o, s, in, boolean(info, 4));
  return h;
} END

FN(SoftmaxBackward) {
  Storage* gy = unwrap(info[0], "grad");
  Storage* y = unwrap(info[1], "output");
  int64_t o = nonneg(info, 2, "outer"), s = nonneg(info, 3, "size"), in = nonneg(info, 4, "inner");
  exact(env, gy, mul(env, mul(env, o, s), in), "grad");
  exact(env, y, gy->numel, "output");
  Value h = out(env, gy->numel);
  softmax_backward(gy->data, y->data, data_of(h), o, s, in, boolean(info, 5));
  return h;
} END

// ---------------------------------------------------------------------------
// linear algebra

FN(Matmul) {
  Storage* a = unwrap(info[0], "a");
  Storage* b = unwrap(info[1], "b");
  int64_t batch = nonneg(info, 2, "batch"), M = nonneg(info, 3, "M"), N = nonneg(info, 4, "N"), K = nonneg(info, 5, "K");
  bool ta = boolean(info, 6), tb = boolean(info, 7);
  int64_t abs_ = nonneg(info, 8, "a batch stride"), bbs = nonneg(info, 9, "b batch stride");
  if (batch > 0) {
    need(env, a, mul(env, batch - 1, abs_) + mul(env, M, K), "a");
    need(env, b, mul(env, batch - 1, bbs) + mul(env, K, N), "b");
  }
  Value h = out(env, mul(env, batch, mul(env, M, N)));
  matmul(a->data, b->data, data_of(h), batch, M, N, K, ta, tb, abs_, bbs, 0.f);
  return h;
} END

FN(Linear) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  Storage* b = opt_storage(info, 2, "bias");
  int64_t N = nonneg(info, 3, "N"), in = nonneg(info, 4, "in"), o = nonneg(info, 5, "out");
  exact(env, x, mul(env, N, in), "input");
  exact(env, w, mul(env, o, in), "weight");
  if (b) exact(env, b, o, "bias");
  Value h = out(env, mul(env, N, o));
  linear_forward(x->data, w->data, b ? b->data : nullptr, data_of(h), N, in, o);
  return h;
} END

// ---------------------------------------------------------------------------
// convolution

ConvGeom conv_geom(const CallbackInfo& info, size_t i) {
  auto v = ints(info, i, "conv geometry");
  Napi::Env env = info.Env();
  if (v.size() != 22) fail(env, "conv geometry must have 22 entries");
  ConvGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
             v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20], v[21]};
  if (g.groups < 1 || g.C % g.groups || g.Cout % g.groups) fail(env, "conv: groups must divide the channel counts");
  if (g.sd < 1 || g.sh < 1 || g.sw < 1 || g.dd < 1 || g.dh < 1 || g.dw < 1) fail(env, "conv: stride and dilation must be >= 1");
  if (g.kd < 1 || g.kh < 1 || g.kw < 1) fail(env, "conv: kernel dims must be >= 1");
  prod(env, {g.N, g.C, g.D, g.H, g.W});
  prod(env, {g.N, g.Cout, g.OD, g.OH, g.OW});
  prod(env, {g.C, g.kd, g.kh, g.kw, g.OD, g.OH, g.OW});
  return g;
}

FN(ConvForward) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  Storage* b = opt_storage(info, 2, "bias");
  ConvGeom g = conv_geom(info, 3);
  exact(env, x, g.N * g.C * g.in_plane(), "input");
  exact(env, w, g.Cout * (g.C / g.groups) * g.kvol(), "weight");
  if (b) exact(env, b, g.Cout, "bias");
  Value h = out(env, g.N * g.Cout * g.out_plane());
  conv_forward(g, x->data, w->data, b ? b->data : nullptr, data_of(h));
  return h;
} END

FN(ConvBackward) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  Storage* gy = unwrap(info[2], "grad");
  ConvGeom g = conv_geom(info, 3);
  bool nx = boolean(info, 4), nw = boolean(info, 5), nb = boolean(info, 6);
  exact(env, x, g.N * g.C * g.in_plane(), "input");
  exact(env, w, g.Cout * (g.C / g.groups) * g.kvol(), "weight");
  exact(env, gy, g.N * g.Cout * g.out_plane(), "grad");
  Value gx = nx ? out(env, x->numel) : env.Null();
  Value gw = nw ? out(env, w->numel) : env.Null();
  Value gb = nb ? out(env, g.Cout) : env.Null();
  auto ptr = [](Value v) { return v.IsNull() ? nullptr : data_of(v); };
  conv_backward(g, x->data, w->data, gy->data, ptr(gx), ptr(gw), ptr(gb));
  auto r = Napi::Array::New(env, 3);
  r.Set(0u, gx);
  r.Set(1u, gw);
  r.Set(2u, gb);
  return r;
} END

// ---------------------------------------------------------------------------
// pooling

PoolGeom pool_geom(const CallbackInfo& info, size_t i) {
  auto v = ints(info, i, "pool geometry");
  Napi::Env env = info.Env();
  if (v.size() != 16) fail(env, "pool geometry must have 16 entries");
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  if (g.kd < 1 || g.kh < 1 || g.kw < 1 || g.sd < 1 || g.sh < 1 || g.sw < 1) fail(env, "pool: kernel and stride must be >= 1");
  prod(env, {g.planes, g.D, g.H, g.W});
  prod(env, {g.planes, g.OD, g.OH, g.OW});
  if (g.D * g.H * g.W > INT32_MAX) fail(env, "pool: plane too large");
  return g;
}

FN(MaxPoolForward) {
  Storage* x = unwrap(info[0], "input");
  PoolGeom g = pool_geom(info, 1);
  exact(env, x, g.planes * g.D * g.H * g.W, "input");
  int64_t on = g.planes * g.OD * g.OH * g.OW;
  Value y = out(env, on), idx = out(env, on);
  max_pool_forward(g, x->data, data_of(y),
                   reinterpret_cast<int32_t*>(data_of(idx)));
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, y);
  r.Set(1u, idx);
  return r;
} END

FN(MaxPoolBackward) {
  Storage* gy = unwrap(info[0], "grad");
  Storage* idx = unwrap(info[1], "indices");
  PoolGeom g = pool_geom(info, 2);
  int64_t on = g.planes * g.OD * g.OH * g.OW, plane = g.D * g.H * g.W;
  exact(env, gy, on, "grad");
  exact(env, idx, on, "indices");
  const int32_t* ip = reinterpret_cast<const int32_t*>(idx->data);
  for (int64_t i = 0; i < on; i++)
    if (ip[i] < 0 || ip[i] >= plane) fail(env, "maxPool backward: corrupt indices");
  Value gx = out(env, g.planes * plane);
  max_pool_backward(g, gy->data, ip, data_of(gx));
  return gx;
} END

FN(AvgPoolForward) {
  Storage* x = unwrap(info[0], "input");
  PoolGeom g = pool_geom(info, 1);
  exact(env, x, g.planes * g.D * g.H * g.W, "input");
  Value y = out(env, g.planes * g.OD * g.OH * g.OW);
  avg_pool_forward(g, x->data, data_of(y), boolean(info, 2));
  return y;
} END

FN(AvgPoolBackward) {
  Storage* gy = unwrap(info[0], "grad");
  PoolGeom g = pool_geom(info, 1);
  exact(env, gy, g.planes * g.OD * g.OH * g.OW, "grad");
  Value gx = out(env, g.planes * g.D * g.H * g.W);
  avg_pool_backward(g, gy->data, data_of(gx), boolean(info, 2));
  return gx;
} END

FN(AdaptiveAvgPool) {  // (x|gy, planes, H, W, OH, OW, backward)
  Storage* x = unwrap(info[0], "input");
  int64_t P = nonneg(info, 1, "planes"), H = nonneg(info, 2, "H"), W = nonneg(info, 3, "W"), OH = nonneg(info, 4, "OH"),
          OW = nonneg(info, 5, "OW");
  bool bw = boolean(info, 6);
  if (OH < 1 || OW < 1 || H < 1 || W < 1) fail(env, "adaptiveAvgPool: sizes must be >= 1");
  int64_t in = mul(env, P, mul(env, H, W)), on = mul(env, P, mul(env, OH, OW));
  exact(env, x, bw ? on : in, bw ? "grad" : "input");
  Value r = out(env, bw ? in : on);
  float* rp = data_of(r);
  if (bw)
    adaptive_avg_pool_backward(P, H, W, OH, OW, x->data, rp);
  else
    adaptive_avg_pool_forward(P, H, W, OH, OW, x->data, rp);
  return r;
} END

// ---------------------------------------------------------------------------
// losses

FN(CrossEntropyForward) {  // (logits, target, N, C, smoothing) → [lossRows, probs]
  Storage* z = unwrap(info[0], "logits");
  Storage* t = unwrap(info[1], "target");
  int64_t N = nonneg(info, 2, "N"), C = nonneg(info, 3, "C");
  exact(env, z, mul(env, N, C), "logits");
  exact(env, t, N, "target");
  check_targets("crossEntropy", t->data, N, C);
  Value loss = out(env, N), probs = out(env, N * C);
  cross_entropy_forward(z->data, t->data, data_of(loss),
                        data_of(probs), N, C, f32(info, 4, "smoothing"));
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, loss);
  r.Set(1u, probs);
  return r;
} END

FN(CrossEntropyBackward) {  // (probs, target, scale, N, C, smoothing)
  Storage* p = unwrap(info[0], "probs");
  Storage* t = unwrap(info[1], "target");
  Storage* s = unwrap(info[2], "scale");
  int64_t N = nonneg(info, 3, "N"), C = nonneg(info, 4, "C");
  exact(env, p, mul(env, N, C), "probs");
  exact(env, t, N, "target");
  if (s->numel != 1 && static_cast<int64_t>(s->numel) != N) fail(env, "crossEntropy backward: bad scale");
  check_targets("crossEntropy", t->data, N, C);
  Value gx = out(env, N * C);
  cross_entropy_backward(p->data, t->data, s->data, s->numel, data_of(gx), N, C,
                         f32(info, 5, "smoothing"));
  return gx;
} END

FN(NllForward) {
  Storage* x = unwrap(info[0], "input");
  Storage* t = unwrap(info[1], "target");
  int64_t N = nonneg(info, 2, "N"), C = nonneg(info, 3, "C");
  exact(env, x, mul(env, N, C), "input");
  exact(env, t, N, "target");
  check_targets("nllLoss", t->data, N, C);
  Value r = out(env, N);
  nll_forward(x->data, t->data, data_of(r), N, C);
  return r;
} END

FN(NllBackward) {
  Storage* t = unwrap(info[0], "target");
  Storage* s = unwrap(info[1], "scale");
  int64_t N = nonneg(info, 2, "N"), C = nonneg(info, 3, "C");
  exact(env, t, N, "target");
  if (s->numel != 1 && static_cast<int64_t>(s->numel) != N) fail(env, "nllLoss backward: bad scale");
  check_targets("nllLoss", t->data, N, C);
  Value gx = out(env, mul(env, N, C));
  nll_backward(t->data, s->data, s->numel, data_of(gx), N, C);
  return gx;
} END

// ---------------------------------------------------------------------------
// batch norm

FN(BatchNormForward) {  // (x, gamma, beta, runMean, runVar, N, C, S, training, momentum, eps) → [y, mean, invstd]
  Storage* x = unwrap(info[0], "input");
  Storage* ga = opt_storage(info, 1, "weight");
  Storage* be = opt_storage(info, 2, "bias");
  Storage* rm = opt_storage(info, 3, "running_mean");
  Storage* rv = opt_storage(info, 4, "running_var");
  int64_t N = nonneg(info, 5, "N"), C = nonneg(info, 6, "C"), S = nonneg(info, 7, "S");
  bool training = boolean(info, 8);
  exact(env, x, mul(env, mul(env, N, C), S), "input");
  for (Storage* s : {ga, be, rm, rv})
    if (s) exact(env, s, C, "batchNorm parameter");
  if (!training && (!rm || !rv)) fail(env, "batchNorm: eval mode needs running statistics");
  if ((rm == nullptr) != (rv == nullptr)) fail(env, "batchNorm: running mean and var go together");
  Value y = out(env, x->numel), mean = out(env, C), inv = out(env, C);
  batch_norm_forward(x->data, ga ? ga->data : nullptr, be ? be->data : nullptr, data_of(y),
                     data_of(mean), data_of(inv),
                     rm ? rm->data : nullptr, rv ? rv->data : nullptr, N, C, S, training, f32(info, 9, "momentum"),
                     f32(info, 10, "eps"));
  auto r = Napi::Array::New(env, 3);
  r.Set(0u, y);
  r.Set(1u, mean);
  r.Set(2u, inv);
  return r;
} END

FN(BatchNormBackward) {  // (x, gy, gamma, mean, invstd, N, C, S, training, needX, needAffine) → [gx, ggamma, gbeta]
  Storage* x = unwrap(info[0], "input");
  Storage* gy = unwrap(info[1], "grad");
  Storage* ga = opt_storage(info, 2, "weight");
  Storage* mean = unwrap(info[3], "mean");
  Storage* inv = unwrap(info[4], "invstd");
  int64_t N = nonneg(info, 5, "N"), C = nonneg(info, 6, "C"), S = nonneg(info, 7, "S");
  exact(env, x, mul(env, mul(env, N, C), S), "input");
  exact(env, gy, x->numel, "grad");
  exact(env, mean, C, "mean");
  exact(env, inv, C, "invstd");
  if (ga) exact(env, ga, C, "weight");
  bool nx = boolean(info, 9), na = boolean(info, 10);
  Value gx = nx ? out(env, x->numel) : env.Null();
  Value gg = na ? out(env, C) : env.Null(), gb = na ? out(env, C) : env.Null();
  auto ptr = [](Value v) { return v.IsNull() ? nullptr : data_of(v); };
  batch_norm_backward(x->data, gy->data, ga ? ga->data : nullptr, mean->data, inv->data, ptr(gx), ptr(gg), ptr(gb), N, C,
                      S, boolean(info, 8));
  auto r = Napi::Array::New(env, 3);
  r.Set(0u, gx);
  r.Set(1u, gg);
  r.Set(2u, gb);
  return r;
} END

// ---------------------------------------------------------------------------
// optimizers (in place)

FN(SgdStep) {  // (p, g, buf|null, lr, momentum, dampening, nesterov, wd, first)
  Storage* p = unwrap(info[0], "param");
  Storage* g = unwrap(info[1], "grad");
  Storage* b = opt_storage(info, 2, "momentum buffer");
  exact(env, g, p->numel, "grad");
  if (b) exact(env, b, p->numel, "momentum buffer");
  float momentum = f32(info, 4, "momentum");
  if (momentum != 0.f && !b) fail(env, "sgd: momentum needs a buffer");
  sgd_step(p->data, g->data, b ? b->data : nullptr, p->numel, f32(info, 3, "lr"), momentum, f32(info, 5, "dampening"),
           boolean(info, 6), f32(info, 7, "weight decay"), boolean(info, 8));
  return env.Undefined();
} END

FN(AdamStep) {  // (p, g, m, v, vmax|null, lr, b1, b2, eps, wd, step, amsgrad, decoupled)
  Storage* p = unwrap(info[0], "param");
  Storage* g = unwrap(info[1], "grad");
  Storage* m = unwrap(info[2], "exp_avg");
  Storage* v = unwrap(info[3], "exp_avg_sq");
  Storage* vm = opt_storage(info, 4, "max_exp_avg_sq");
  for (Storage* s : {g, m, v}) exact(env, s, p->numel, "adam state");
  bool ams = boolean(info, 11);
  if (ams && !vm) fail(env, "adam: amsgrad needs max_exp_avg_sq");
  if (vm) exact(env, vm, p->numel, "max_exp_avg_sq");
  int64_t step = i64(info, 10, "step");
  if (step < 1) fail(env, "adam: step must be >= 1");
  adam_step(p->data, g->data, m->data, v->data, vm ? vm->data : nullptr, p->numel, f32(info, 5, "lr"),
            f32(info, 6, "beta1"), f32(info, 7, "beta2"), f32(info, 8, "eps"), f32(info, 9, "weight decay"), step, ams,
            boolean(info, 12));
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
  EXPORT("binary", Binary);
  EXPORT("unary", Unary);
  EXPORT("unaryInplace", UnaryInplace);
  EXPORT("activationBackward", ActivationBackward);
  EXPORT("sumTo", SumTo);
  EXPORT("axpy", Axpy);
  EXPORT("fill", Fill);
  EXPORT("permute", Permute);
  EXPORT("indexRows", IndexRows);
  EXPORT("randomFill", RandomFill);
  EXPORT("reduceSum", ReduceSum);
  EXPORT("reduceMax", ReduceMax);
  EXPORT("softmax", Softmax);
  EXPORT("softmaxBackward", SoftmaxBackward);
  EXPORT("matmul", Matmul);
  EXPORT("linear", Linear);
  EXPORT("convForward", ConvForward);
  EXPORT("convBackward", ConvBackward);
  EXPORT("maxPoolForward", MaxPoolForward);
  EXPORT("maxPoolBackward", MaxPoolBackward);
  EXPORT("avgPoolForward", AvgPoolForward);
  EXPORT("avgPoolBackward", AvgPoolBackward);
  EXPORT("adaptiveAvgPool", AdaptiveAvgPool);
  EXPORT("crossEntropyForward", CrossEntropyForward);
  EXPORT("crossEntropyBackward", CrossEntropyBackward);
  EXPORT("nllForward", NllForward);
  EXPORT("nllBackward", NllBackward);
  EXPORT("batchNormForward", BatchNormForward);
  EXPORT("batchNormBackward", BatchNormBackward);
  EXPORT("sgdStep", SgdStep);
  EXPORT("adamStep", AdamStep);
  EXPORT("backendInfo", BackendInfo);
  EXPORT("setNumThreads", SetNumThreads);
  EXPORT("getNumThreads", GetNumThreads);
  EXPORT("memoryInfo", MemoryInfo);
  EXPORT("poolTrim", PoolTrim);
  EXPORT("poolSetLimit", PoolSetLimit);
#undef EXPORT
  init_plan(env, exports);
  num_threads();  // start the pool and pin OpenBLAS to one thread now
  return exports;
}

}  // namespace
}  // namespace blasnet

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return blasnet::Init(env, exports); }
NODE_API_MODULE(blasnet, InitModule)
