// Bindings for convolution (conv.cc).
#include <atomic>
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding_args.h"
#include "conv_direct.h"
#include "kernels.h"

namespace blasnet {
namespace {
using namespace bind;

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

// Transposed convolution is the adjoint of the convolution whose input has the transposed one's
// output shape: its forward is that convolution's input gradient (GEMM + col2im), with x in the
// place of the output gradient. g describes the adjoint convolution. (x, w, geom)
FN(ConvTransposeForward) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  ConvGeom g = conv_geom(info, 2);
  exact(env, x, g.N * g.Cout * g.out_plane(), "input");
  exact(env, w, g.Cout * (g.C / g.groups) * g.kvol(), "weight");
  Value y = out(env, g.N * g.C * g.in_plane());
  conv_backward(g, nullptr, w->data, x->data, data_of(y), nullptr, nullptr);
  return y;
} END

// conv2d + bias [+ ReLU] + 2×2 stride-2 max pool (floor) in one pass:
// returns [pooled y [N, Cout, OH/2, OW/2], indices into each conv output plane].
FN(ConvPoolForward) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  Storage* b = opt_storage(info, 2, "bias");
  ConvGeom g = conv_geom(info, 3);
  const bool relu = boolean(info, 4);
  exact(env, x, g.N * g.C * g.in_plane(), "input");
  exact(env, w, g.Cout * (g.C / g.groups) * g.kvol(), "weight");
  if (b) exact(env, b, g.Cout, "bias");
  if (g.OD != 1 || g.OH < 2 || g.OW < 2) fail(env, "convPool: the conv output must be 2-D and at least 2×2");
  if (g.OH * g.OW > INT32_MAX) fail(env, "convPool: plane too large");
  const int64_t on = g.N * g.Cout * (g.OH / 2) * (g.OW / 2);
  Value y = out(env, on), idx = out(env, on);
  direct::forward_relu_pool(g, x->data, w->data, b ? b->data : nullptr, data_of(y),
                            reinterpret_cast<int32_t*>(data_of(idx)), relu);
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, y);
  r.Set(1u, idx);
  return r;
} END

// Backward of ConvPoolForward: the pooled gradient goes to each window's max
// (zero where ReLU cut it: y <= 0, NaN passing as relu's backward), then the conv backward.
FN(ConvPoolBackward) {
  Storage* x = unwrap(info[0], "input");
  Storage* w = unwrap(info[1], "weight");
  Storage* gy = unwrap(info[2], "grad");
  Storage* y = unwrap(info[3], "output");
  Storage* idx = unwrap(info[4], "indices");
  ConvGeom g = conv_geom(info, 5);
  const bool relu = boolean(info, 6);
  bool nx = boolean(info, 7), nw = boolean(info, 8), nb = boolean(info, 9);
  exact(env, x, g.N * g.C * g.in_plane(), "input");
  exact(env, w, g.Cout * (g.C / g.groups) * g.kvol(), "weight");
  if (g.OD != 1 || g.OH < 2 || g.OW < 2) fail(env, "convPool: the conv output must be 2-D and at least 2×2");
  const int64_t pp = (g.OH / 2) * (g.OW / 2), P = g.OH * g.OW, planes = g.N * g.Cout;
  exact(env, gy, planes * pp, "grad");
  exact(env, y, planes * pp, "output");
  exact(env, idx, planes * pp, "indices");
  const int32_t* ip = reinterpret_cast<const int32_t*>(idx->data);
  // gz [planes, P]: each plane zeroed, then its pooled gradients scattered, planes split
  // over the pool. An index outside its plane is skipped and reported after.
  Scratch gz(static_cast<size_t>(planes * P));
  std::atomic<bool> corrupt{false};
  parallel_for(planes, std::max<int64_t>(1, 8192 / P), [&](int64_t p0, int64_t p1) {
    std::memset(gz.p + p0 * P, 0, (p1 - p0) * P * sizeof(float));
    for (int64_t pl = p0; pl < p1; pl++) {
      const float* gp = gy->data + pl * pp;
      const float* yp = y->data + pl * pp;
      const int32_t* ix = ip + pl * pp;
      float* z = gz.p + pl * P;
      for (int64_t i = 0; i < pp; i++) {
        const int32_t at = ix[i];
        if (at < 0 || at >= P) {
          corrupt.store(true, std::memory_order_relaxed);
          continue;
        }
        z[at] = relu && yp[i] <= 0.f ? 0.f : gp[i];
      }
    }
  });
  if (corrupt.load()) fail(env, "convPool backward: corrupt indices");
  Value gx = nx ? out(env, x->numel) : env.Null();
  Value gw = nw ? out(env, w->numel) : env.Null();
  Value gb = nb ? out(env, g.Cout) : env.Null();
  auto ptr = [](Value v) { return v.IsNull() ? nullptr : data_of(v); };
  conv_backward(g, x->data, w->data, gz.p, ptr(gx), ptr(gw), ptr(gb));
  auto r = Napi::Array::New(env, 3);
  r.Set(0u, gx);
  r.Set(1u, gw);
  r.Set(2u, gb);
  return r;
} END

FN(SetConvWorkspaceLimit) {
  set_conv_workspace_limit(static_cast<size_t>(nonneg(info, 0, "bytes")));
  return env.Undefined();
} END

FN(SetConvWinograd) {
  const int64_t m = i64(info, 0, "mode");
  if (m < 0 || m > 2) fail(env, "setConvWinograd: mode must be 0, 1 or 2");
  set_conv_winograd(static_cast<int>(m));
  return env.Undefined();
} END

FN(GetConvWinograd) { return Napi::Number::New(env, conv_winograd()); } END

FN(GetConvWorkspaceLimit) { return Napi::Number::New(env, static_cast<double>(conv_workspace_limit())); } END

}  // namespace

void init_conv(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("convForward", ConvForward);
  EXPORT("convBackward", ConvBackward);
  EXPORT("convTransposeForward", ConvTransposeForward);
  EXPORT("convPoolForward", ConvPoolForward);
  EXPORT("convPoolBackward", ConvPoolBackward);
  EXPORT("setConvWorkspaceLimit", SetConvWorkspaceLimit);
  EXPORT("getConvWorkspaceLimit", GetConvWorkspaceLimit);
  EXPORT("setConvWinograd", SetConvWinograd);
  EXPORT("getConvWinograd", GetConvWinograd);
#undef EXPORT
}

}  // namespace blasnet
