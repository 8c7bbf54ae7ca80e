// Bindings for elementwise ops, reductions and linear algebra (elementwise.cc, reduce.cc).
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

}  // namespace

void init_tensor(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
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
#undef EXPORT
}

}  // namespace blasnet
