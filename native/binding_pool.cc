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

}  // namespace

void init_pool(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("maxPoolForward", MaxPoolForward);
  EXPORT("maxPoolBackward", MaxPoolBackward);
  EXPORT("avgPoolForward", AvgPoolForward);
  EXPORT("avgPoolBackward", AvgPoolBackward);
  EXPORT("adaptiveAvgPool", AdaptiveAvgPool);
#undef EXPORT
}

}  // namespace blasnet
