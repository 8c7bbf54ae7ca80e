// Bindings for pooling (pool.cc).
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding_args.h"
#include "kernels.h"

namespace blasnet {
namespace {
using namespace bind;

// ---------------------------------------------------------------------------
// pooling

// [planes, D, H, W, OD, OH, OW, kd, kh, kw, sd, sh, sw, pd, ph, pw] (+ [dd, dh, dw] for dilated max pools).
// Re-checks what could send a window outside the input: every size >= 1 (unless there are no planes),
// padding at most half the kernel, and every window starting inside the input or its left padding.
PoolGeom pool_geom(const CallbackInfo& info, size_t i) {
  auto v = ints(info, i, "pool geometry");
  Napi::Env env = info.Env();
  if (v.size() != 16 && v.size() != 19) fail(env, "pool geometry must have 16 or 19 entries");
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  if (v.size() == 19) {
    g.dd = v[16];
    g.dh = v[17];
    g.dw = v[18];
  }
  if (g.kd < 1 || g.kh < 1 || g.kw < 1 || g.sd < 1 || g.sh < 1 || g.sw < 1 || g.dd < 1 || g.dh < 1 || g.dw < 1)
    fail(env, "pool: kernel, stride and dilation must be >= 1");
  prod(env, {g.planes, g.D, g.H, g.W});
  prod(env, {g.planes, g.OD, g.OH, g.OW});
  if (g.D * g.H * g.W > INT32_MAX) fail(env, "pool: plane too large");
  if (g.planes > 0) {
    const int64_t L[3] = {g.D, g.H, g.W}, O[3] = {g.OD, g.OH, g.OW}, k[3] = {g.kd, g.kh, g.kw}, s[3] = {g.sd, g.sh, g.sw},
                  p[3] = {g.pd, g.ph, g.pw};
    for (int d = 0; d < 3; d++) {
      if (L[d] < 1 || O[d] < 1) fail(env, "pool: input and output sizes must be >= 1");
      if (2 * p[d] > k[d]) fail(env, "pool: padding must be at most half the kernel");
      if ((O[d] - 1) * s[d] >= L[d] + p[d]) fail(env, "pool: the output size is more than the input can produce");
    }
  }
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
    if (ip[i] < -1 || ip[i] >= plane) fail(env, "maxPool backward: corrupt indices");  // -1: a window with no element
  Value gx = out(env, g.planes * plane);
  max_pool_backward(g, gy->data, ip, data_of(gx));
  return gx;
} END

FN(AvgPoolForward) {
  Storage* x = unwrap(info[0], "input");
  PoolGeom g = pool_geom(info, 1);
  exact(env, x, g.planes * g.D * g.H * g.W, "input");
  if (g.dd != 1 || g.dh != 1 || g.dw != 1) fail(env, "avgPool: no dilation");
  Value y = out(env, g.planes * g.OD * g.OH * g.OW);
  avg_pool_forward(g, x->data, data_of(y), boolean(info, 2), info.Length() > 3 ? nonneg(info, 3, "divisor") : 0);
  return y;
} END

FN(AvgPoolBackward) {
  Storage* gy = unwrap(info[0], "grad");
  PoolGeom g = pool_geom(info, 1);
  exact(env, gy, g.planes * g.OD * g.OH * g.OW, "grad");
  if (g.dd != 1 || g.dh != 1 || g.dw != 1) fail(env, "avgPool: no dilation");
  Value gx = out(env, g.planes * g.D * g.H * g.W);
  avg_pool_backward(g, gy->data, data_of(gx), boolean(info, 2), info.Length() > 3 ? nonneg(info, 3, "divisor") : 0);
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

// [planes, D, H, W, OD, OH, OW] of an adaptive pool, as a PoolGeom (kernel/stride 1, no padding).
PoolGeom adaptive_geom(const CallbackInfo& info, size_t i) {
  auto v = ints(info, i, "adaptive pool geometry");
  Napi::Env env = info.Env();
  if (v.size() != 7) fail(env, "adaptive pool geometry must have 7 entries");
  PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], 1, 1, 1, 1, 1, 1, 0, 0, 0};
  if (g.D < 1 || g.H < 1 || g.W < 1 || g.OD < 1 || g.OH < 1 || g.OW < 1) fail(env, "adaptive pool: sizes must be >= 1");
  prod(env, {g.planes, g.D, g.H, g.W});
  prod(env, {g.planes, g.OD, g.OH, g.OW});
  if (g.D * g.H * g.W > INT32_MAX) fail(env, "adaptive pool: plane too large");
  return g;
}

// (x|gy, geom[7], max, backward[, indices]): avg forward/backward; max forward → [y, idx]; max backward
// scatters gy through the indices of the forward.
FN(AdaptivePool3d) {
  Storage* x = unwrap(info[0], "input");
  PoolGeom g = adaptive_geom(info, 1);
  const bool max = boolean(info, 2), bw = boolean(info, 3);
  const int64_t in = g.planes * g.D * g.H * g.W, on = g.planes * g.OD * g.OH * g.OW;
  exact(env, x, bw ? on : in, bw ? "grad" : "input");
  if (max && bw) {
    Storage* idx = unwrap(info[4], "indices");
    exact(env, idx, on, "indices");
    const int32_t* ip = reinterpret_cast<const int32_t*>(idx->data);
    const int64_t plane = g.D * g.H * g.W;
    for (int64_t i = 0; i < on; i++)
      if (ip[i] < 0 || ip[i] >= plane) fail(env, "adaptiveMaxPool backward: corrupt indices");
    Value gx = out(env, in);
    max_pool_backward(g, x->data, ip, data_of(gx));
    return gx;
  }
  if (max) {
    Value y = out(env, on), idx = out(env, on);
    adaptive_max_pool3d_forward(g, x->data, data_of(y), reinterpret_cast<int32_t*>(data_of(idx)));
    auto r = Napi::Array::New(env, 2);
    r.Set(0u, y);
    r.Set(1u, idx);
    return r;
  }
  Value r = out(env, bw ? in : on);
  if (bw)
    adaptive_avg_pool3d_backward(g, x->data, data_of(r));
  else
    adaptive_avg_pool3d_forward(g, x->data, data_of(r));
  return r;
} END

FN(PoolIndices) {  // (idx) → the int32 argmax indices as float32 values (exact below 2^24)
  Storage* idx = unwrap(info[0], "indices");
  Value r = out(env, idx->numel);
  const int32_t* ip = reinterpret_cast<const int32_t*>(idx->data);
  float* rp = data_of(r);
  for (size_t i = 0; i < idx->numel; i++) rp[i] = static_cast<float>(ip[i]);
  return r;
} END

FN(MaxUnpool) {  // (x|gy, indices (float), planes, in, out, backward)
  Storage* x = unwrap(info[0], "input");
  Storage* fi = unwrap(info[1], "indices");
  const int64_t P = nonneg(info, 2, "planes"), in = nonneg(info, 3, "in"), on = nonneg(info, 4, "out");
  const bool bw = boolean(info, 5);
  const int64_t n = mul(env, P, in), m = mul(env, P, on);
  if (on > INT32_MAX) fail(env, "maxUnpool: plane too large");
  exact(env, x, bw ? m : n, bw ? "grad" : "input");
  exact(env, fi, n, "indices");
  std::vector<int32_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    const float v = fi->data[i];
    if (!(v >= 0.f && v < static_cast<float>(on)) || v != static_cast<float>(static_cast<int64_t>(v)))
      throw Napi::RangeError::New(env, "found an invalid max index " + std::to_string(v) + " at position " + std::to_string(i) +
                                           " (each output plane has " + std::to_string(on) + " elements)");
    idx[i] = static_cast<int32_t>(v);
  }
  Value r = out(env, bw ? n : m);
  if (bw)
    max_unpool_backward(P, in, on, x->data, idx.data(), data_of(r));
  else
    max_unpool_forward(P, in, on, x->data, idx.data(), data_of(r));
  return r;
} END

}  // namespace

void init_pool(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("maxPoolForward", MaxPoolForward);
  EXPORT("maxPoolBackward", MaxPoolBackward);
  EXPORT("avgPoolForward", AvgPoolForward);
  EXPORT("avgPoolBackward", AvgPoolBackward);
  EXPORT("adaptiveAvgPool", AdaptiveAvgPool);
  EXPORT("adaptivePool3d", AdaptivePool3d);
  EXPORT("poolIndices", PoolIndices);
  EXPORT("maxUnpool", MaxUnpool);
#undef EXPORT
}

}  // namespace blasnet
