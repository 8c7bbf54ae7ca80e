// Bindings for losses, batch norm and optimizer updates (train.cc).
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

}  // namespace

void init_train(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("crossEntropyForward", CrossEntropyForward);
  EXPORT("crossEntropyBackward", CrossEntropyBackward);
  EXPORT("nllForward", NllForward);
  EXPORT("nllBackward", NllBackward);
  EXPORT("batchNormForward", BatchNormForward);
  EXPORT("batchNormBackward", BatchNormBackward);
  EXPORT("sgdStep", SgdStep);
  EXPORT("adamStep", AdamStep);
#undef EXPORT
}

}  // namespace blasnet
