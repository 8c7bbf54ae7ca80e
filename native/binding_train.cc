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
