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

// Loss arguments shared by the four bindings: target [N*S], weight [C] or null, N, C, S, ignoreIndex.
struct LossGeom {
  Storage* t;
  Storage* w;
  int64_t N, C, S, ignore;
};
LossGeom loss_geom(const Napi::CallbackInfo& info, Napi::Env env, const char* op, size_t ti, size_t wi, size_t ni,
                   size_t ii) {
  LossGeom g{unwrap(info[ti], "target"), opt_storage(info, wi, "weight"), nonneg(info, ni, "N"),
             nonneg(info, ni + 1, "C"), nonneg(info, ni + 2, "S"), i64(info, ii, "ignoreIndex")};
  exact(env, g.t, mul(env, g.N, g.S), "target");
  if (g.w) exact(env, g.w, g.C, "weight");
  check_targets(op, g.t->data, g.N * g.S, g.C, g.ignore);
  return g;
}

FN(CrossEntropyForward) {  // (logits, target, weight|null, N, C, S, smoothing, ignoreIndex) → [lossRows, probs, divisor]
  Storage* z = unwrap(info[0], "logits");
  LossGeom g = loss_geom(info, env, "crossEntropy", 1, 2, 3, 7);
  exact(env, z, mul(env, mul(env, g.N, g.C), g.S), "logits");
  Value loss = out(env, g.N * g.S), probs = out(env, z->numel);
  double d = cross_entropy_forward(z->data, g.t->data, g.w ? g.w->data : nullptr, data_of(loss), data_of(probs), g.N,
                                   g.C, g.S, f32(info, 6, "smoothing"), g.ignore);
  auto r = Napi::Array::New(env, 3);
  r.Set(0u, loss);
  r.Set(1u, probs);
  r.Set(2u, Napi::Number::New(env, d));
  return r;
} END

FN(CrossEntropyBackward) {  // (probs, target, weight|null, scale, N, C, S, smoothing, ignoreIndex)
  Storage* p = unwrap(info[0], "probs");
  Storage* s = unwrap(info[3], "scale");
  LossGeom g = loss_geom(info, env, "crossEntropy", 1, 2, 4, 8);
  exact(env, p, mul(env, mul(env, g.N, g.C), g.S), "probs");
  if (s->numel != 1 && static_cast<int64_t>(s->numel) != g.N * g.S) fail(env, "crossEntropy backward: bad scale");
  Value gx = out(env, p->numel);
  cross_entropy_backward(p->data, g.t->data, g.w ? g.w->data : nullptr, s->data, s->numel, data_of(gx), g.N, g.C, g.S,
                         f32(info, 7, "smoothing"), g.ignore);
  return gx;
} END

FN(NllForward) {  // (input, target, weight|null, N, C, S, ignoreIndex) → [lossRows, divisor]
  Storage* x = unwrap(info[0], "input");
  LossGeom g = loss_geom(info, env, "nllLoss", 1, 2, 3, 6);
  exact(env, x, mul(env, mul(env, g.N, g.C), g.S), "input");
  Value rows = out(env, g.N * g.S);
  double d = nll_forward(x->data, g.t->data, g.w ? g.w->data : nullptr, data_of(rows), g.N, g.C, g.S, g.ignore);
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, rows);
  r.Set(1u, Napi::Number::New(env, d));
  return r;
} END

FN(NllBackward) {  // (target, weight|null, scale, N, C, S, ignoreIndex)
  Storage* s = unwrap(info[2], "scale");
  LossGeom g = loss_geom(info, env, "nllLoss", 0, 1, 3, 6);
  if (s->numel != 1 && static_cast<int64_t>(s->numel) != g.N * g.S) fail(env, "nllLoss backward: bad scale");
  Value gx = out(env, mul(env, mul(env, g.N, g.C), g.S));
  nll_backward(g.t->data, g.w ? g.w->data : nullptr, s->data, s->numel, data_of(gx), g.N, g.C, g.S, g.ignore);
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

FN(SgdStep) {  // (p, g, buf|null, lr, momentum, dampening, nesterov, wd, first, maximize)
  Storage* p = unwrap(info[0], "SGD.step param");
  Storage* g = unwrap(info[1], "SGD.step grad");
  Storage* b = opt_storage(info, 2, "SGD.step momentum_buffer");
  exact(env, g, p->numel, "SGD.step grad");
  if (b) exact(env, b, p->numel, "SGD.step momentum_buffer");
  float momentum = f32(info, 4, "momentum");
  if (momentum != 0.f && !b) fail(env, "SGD.step: momentum needs a momentum_buffer");
  sgd_step(p->data, g->data, b ? b->data : nullptr, p->numel, f32(info, 3, "lr"), momentum, f32(info, 5, "dampening"),
           boolean(info, 6), f32(info, 7, "weight decay"), boolean(info, 8), boolean(info, 9));
  return env.Undefined();
} END

FN(AdamStep) {  // (p, g, m, v, vmax|null, lr, b1, b2, eps, wd, step, amsgrad, decoupled, maximize)
  Storage* p = unwrap(info[0], "Adam.step param");
  Storage* g = unwrap(info[1], "Adam.step grad");
  Storage* m = unwrap(info[2], "Adam.step exp_avg");
  Storage* v = unwrap(info[3], "Adam.step exp_avg_sq");
  Storage* vm = opt_storage(info, 4, "Adam.step max_exp_avg_sq");
  exact(env, g, p->numel, "Adam.step grad");
  exact(env, m, p->numel, "Adam.step exp_avg");
  exact(env, v, p->numel, "Adam.step exp_avg_sq");
  bool ams = boolean(info, 11);
  if (ams && !vm) fail(env, "Adam.step: amsgrad needs max_exp_avg_sq");
  if (vm) exact(env, vm, p->numel, "Adam.step max_exp_avg_sq");
  int64_t step = i64(info, 10, "step");
  if (step < 1) fail(env, "Adam.step: step must be >= 1");
  adam_step(p->data, g->data, m->data, v->data, vm ? vm->data : nullptr, p->numel, f32(info, 5, "lr"),
            f32(info, 6, "beta1"), f32(info, 7, "beta2"), f32(info, 8, "eps"), f32(info, 9, "weight decay"), step, ams,
            boolean(info, 12), boolean(info, 13));
  return env.Undefined();
} END

FN(AdadeltaStep) {  // (p, g, square_avg, acc_delta, lr, rho, eps, wd, maximize)
  Storage* p = unwrap(info[0], "Adadelta.step param");
  Storage* g = unwrap(info[1], "Adadelta.step grad");
  Storage* sq = unwrap(info[2], "Adadelta.step square_avg");
  Storage* acc = unwrap(info[3], "Adadelta.step acc_delta");
  exact(env, g, p->numel, "Adadelta.step grad");
  exact(env, sq, p->numel, "Adadelta.step square_avg");
  exact(env, acc, p->numel, "Adadelta.step acc_delta");
  adadelta_step(p->data, g->data, sq->data, acc->data, p->numel, f32(info, 4, "lr"), f32(info, 5, "rho"),
                f32(info, 6, "eps"), f32(info, 7, "weight decay"), boolean(info, 8));
  return env.Undefined();
} END

FN(RmspropStep) {  // (p, g, square_avg, grad_avg|null, momentum_buffer|null, lr, alpha, eps, wd, momentum, maximize)
  Storage* p = unwrap(info[0], "RMSprop.step param");
  Storage* g = unwrap(info[1], "RMSprop.step grad");
  Storage* sq = unwrap(info[2], "RMSprop.step square_avg");
  Storage* ga = opt_storage(info, 3, "RMSprop.step grad_avg");
  Storage* buf = opt_storage(info, 4, "RMSprop.step momentum_buffer");
  exact(env, g, p->numel, "RMSprop.step grad");
  exact(env, sq, p->numel, "RMSprop.step square_avg");
  if (ga) exact(env, ga, p->numel, "RMSprop.step grad_avg");
  if (buf) exact(env, buf, p->numel, "RMSprop.step momentum_buffer");
  rmsprop_step(p->data, g->data, sq->data, ga ? ga->data : nullptr, buf ? buf->data : nullptr, p->numel,
               f32(info, 5, "lr"), f32(info, 6, "alpha"), f32(info, 7, "eps"), f32(info, 8, "weight decay"),
               f32(info, 9, "momentum"), boolean(info, 10));
  return env.Undefined();
} END

FN(AdagradStep) {  // (p, g, sum, clr, eps, wd, maximize)
  Storage* p = unwrap(info[0], "Adagrad.step param");
  Storage* g = unwrap(info[1], "Adagrad.step grad");
  Storage* sum = unwrap(info[2], "Adagrad.step sum");
  exact(env, g, p->numel, "Adagrad.step grad");
  exact(env, sum, p->numel, "Adagrad.step sum");
  adagrad_step(p->data, g->data, sum->data, p->numel, f32(info, 3, "lr"), f32(info, 4, "eps"),
               f32(info, 5, "weight decay"), boolean(info, 6));
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
  EXPORT("adadeltaStep", AdadeltaStep);
  EXPORT("rmspropStep", RmspropStep);
  EXPORT("adagradStep", AdagradStep);
#undef EXPORT
}

}  // namespace blasnet
