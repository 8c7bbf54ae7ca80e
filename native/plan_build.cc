// Building a plan from the program src/plan/emit.ts encodes, checking its
// structure (plan_exec.cc checks geometry on every run), and the weight store
// operations (batch norm tables and folding).
//
// Encoding (all numbers in one Float64Array each):
//   slots: per slot  kind, numel, numel-per-N flag, constant index (-1)
//   steps: per step  op, nIn, in..., nOut, out..., nInts, (value, per-N flag)...,
//                    nReals, reals..., nEp, per micro-op: kind, flag, real,
//                    nOperands, operands..., nGeom, (value, per-N flag)...
#include <cmath>
#include <string>

#include "kernels.h"
#include "plan.h"

namespace blasnet {
namespace plan {
namespace {

constexpr double kMaxInt = 9007199254740991.0;

struct Reader {
  const double* p;
  size_t n, at = 0;
  const char* what;
  double real() {
    if (at >= n) throw Error(std::string("plan: ") + what + " program ends early");
    return p[at++];
  }
  int64_t integer(int64_t lo, int64_t hi) {
    double d = real();
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi) || std::fabs(d) > kMaxInt)
      throw Error(std::string("plan: ") + what + " program holds " + std::to_string(d) + " where an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "] belongs");
    return static_cast<int64_t>(d);
  }
  Arg arg() {
    Arg a;
    a.v = integer(-(int64_t{1} << 40), int64_t{1} << 40);
    a.per_n = integer(0, 1) != 0;
    return a;
  }
};

// Per-channel a, b of eval-mode batch norm, computed exactly as
// batch_norm_forward does (train.cc), so y * a + b gives the eager bits.
void bn_tables(const float* gamma, const float* beta, const float* mean, const float* var, int64_t C, float eps, float* a, float* b) {
  for (int64_t c = 0; c < C; c++) {
    const float invstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
    a[c] = (gamma ? gamma[c] : 1.f) * invstd;
    b[c] = (beta ? beta[c] : 0.f) - mean[c] * a[c];
  }
}

}  // namespace

std::shared_ptr<Plan> build(std::shared_ptr<const ConstStore> store, const double* slots, size_t nslots, const double* prog, size_t nprog,
                            int64_t output, int64_t fixed_n) {
  auto p = std::make_shared<Plan>();
  p->store = store;
  if (nslots % 4 || nslots == 0) throw Error("plan: the slot table must hold 4 numbers per slot");
  const size_t S = nslots / 4;
  if (S > (1u << 24)) throw Error("plan: too many slots");
  Reader sr{slots, nslots, 0, "slot"};
  p->slots.resize(S);
  for (size_t i = 0; i < S; i++) {
    Slot& sl = p->slots[i];
    sl.kind = static_cast<SlotKind>(sr.integer(0, 2));
    sl.numel = sr.arg();
    if (sl.numel.v < 0) throw Error("plan: slot " + std::to_string(i) + " has a negative size");
    const int64_t ci = sr.integer(-1, static_cast<int64_t>(store->bufs.size()) - 1);
    if ((i == 0) != (sl.kind == kInput)) throw Error("plan: slot 0, and only slot 0, is the input");
    if (sl.kind == kConst) {
      if (ci < 0) throw Error("plan: constant slot " + std::to_string(i) + " names no constant");
      sl.c = store->bufs[ci];
      if (sl.numel.per_n || static_cast<size_t>(sl.numel.v) != sl.c->n)
        throw Error("plan: constant slot " + std::to_string(i) + " declares " + std::to_string(sl.numel.v) + " elements, the constant has " + std::to_string(sl.c->n));
    }
  }
  if (fixed_n < 0) throw Error("plan: negative fixed batch");
  p->fixed_n = fixed_n;
  p->in_per_n = p->slots[0].numel.v;

  // which temporaries are defined, and where each slot is last read
  std::vector<int> defined(S, 0), last_use(S, -1);
  for (size_t i = 0; i < S; i++) defined[i] = p->slots[i].kind != kTemp;
  auto use = [&](int sl, size_t step, bool optional) {
    if (sl < 0) {
      if (!optional) throw Error("plan: step " + std::to_string(step) + " lacks a required operand");
      return;
    }
    if (static_cast<size_t>(sl) >= S || !defined[sl]) throw Error("plan: step " + std::to_string(step) + " reads slot " + std::to_string(sl) + " before it is computed");
    last_use[sl] = static_cast<int>(step);
  };

  Reader r{prog, nprog, 0, "step"};
  while (r.at < r.n) {
    const size_t k = p->steps.size();
    if (k > (1u << 20)) throw Error("plan: too many steps");
    Step s;
    s.op = static_cast<int>(r.integer(0, kOpCount - 1));
    const int64_t nin = r.integer(0, 4096);
    for (int64_t i = 0; i < nin; i++) s.in.push_back(static_cast<int>(r.integer(-1, static_cast<int64_t>(S) - 1)));
    const int64_t nout = r.integer(1, 2);
    for (int64_t i = 0; i < nout; i++) s.out.push_back(static_cast<int>(r.integer(-1, static_cast<int64_t>(S) - 1)));
    const int64_t nints = r.integer(0, 4096);
    for (int64_t i = 0; i < nints; i++) s.ints.push_back(r.arg());
    const int64_t nreals = r.integer(0, 64);
    for (int64_t i = 0; i < nreals; i++) s.reals.push_back(static_cast<float>(r.real()));
    const int64_t nep = r.integer(0, 64);
    if (nep && s.op != kConv && s.op != kLinear && s.op != kEltwise) throw Error("plan: step " + std::to_string(k) + " cannot carry an epilogue");
    for (int64_t e = 0; e < nep; e++) {
      EpOp ep;
      ep.kind = static_cast<int>(r.integer(0, kEpAvgPool));
      ep.flag = static_cast<int>(r.integer(0, 64));
      ep.real = static_cast<float>(r.real());
      const int64_t nops = r.integer(0, 4);
      std::vector<int> ops;
      for (int64_t i = 0; i < nops; i++) ops.push_back(static_cast<int>(r.integer(-1, static_cast<int64_t>(S) - 1)));
      const int64_t ng = r.integer(0, 16);
      for (int64_t i = 0; i < ng; i++) ep.geom.push_back(r.arg());
      const bool pool = ep.kind == kEpMaxPool || ep.kind == kEpAvgPool;
      if (pool && (ng != 16 || e + 1 != nep)) throw Error("plan: a pool epilogue needs 16 geometry values and must come last");
      if (!pool && ng) throw Error("plan: only pool epilogues carry geometry");
      if (ep.kind == kEpAct && ep.flag != kActRelu && ep.flag != kActLeakyRelu) throw Error("plan: unknown epilogue activation");
      if (ep.kind == kEpAdd) {
        if (nops != 1) throw Error("plan: an add epilogue takes one operand");
        use(ops[0], k, false);
        ep.operand = ops[0];
      } else if (ep.kind == kEpAffine) {
        if (s.op != kConv) throw Error("plan: a batch norm epilogue follows a convolution only");
        if (nops != 4) throw Error("plan: a batch norm epilogue takes gamma, beta, mean and var");
        const float* t[4] = {nullptr, nullptr, nullptr, nullptr};
        size_t C = 0;
        for (int i = 0; i < 4; i++) {
          if (ops[i] < 0) {
            if (i >= 2) throw Error("plan: a batch norm epilogue needs the running statistics");
            continue;
          }
          if (static_cast<size_t>(ops[i]) >= S || p->slots[ops[i]].kind != kConst) throw Error("plan: batch norm epilogue parameters must be constants");
          const Buf& b = *p->slots[ops[i]].c;
          if (i == 2) C = b.n;
          t[i] = b.p;
        }
        for (int i = 0; i < 4; i++)
          if (t[i] && p->slots[ops[i]].c->n != C) throw Error("plan: batch norm parameters differ in size");
        auto a = std::make_shared<Buf>(C), b = std::make_shared<Buf>(C);
        bn_tables(t[0], t[1], t[2], t[3], static_cast<int64_t>(C), ep.real, a->p, b->p);
        ep.scale = a;
        ep.shift = b;
        p->bytes += 2 * C * sizeof(float);
      } else if (nops) {
        throw Error("plan: this epilogue takes no operands");
      }
      s.ep.push_back(std::move(ep));
    }
    const bool weighted = s.op == kConv || s.op == kLinear;
    for (size_t i = 0; i < s.in.size(); i++) use(s.in[i], k, weighted ? i == 2 : (s.op == kBatchNorm && (i == 1 || i == 2)));
    if (weighted && s.in.size() < 2) throw Error("plan: step " + std::to_string(k) + " has no weight");
    for (int o : s.out) {
      if (o < 0) continue;
      if (p->slots[o].kind != kTemp || defined[o]) throw Error("plan: step " + std::to_string(k) + " writes slot " + std::to_string(o) + ", which is not a fresh temporary");
      defined[o] = 1;
      last_use[o] = static_cast<int>(k);
    }
    if (s.out[0] < 0 && s.op != kReduceMax) throw Error("plan: step " + std::to_string(k) + " has no output");
    if (s.op == kConv && p->slots[s.in[1]].kind == kConst) s.pack = std::make_shared<DirectPack>();
    p->steps.push_back(std::move(s));
  }
  if (output < 0 || static_cast<size_t>(output) >= S || !defined[output]) throw Error("plan: the output slot is never computed");
  p->output = static_cast<int>(output);
  for (size_t i = 0; i < S; i++)
    if (p->slots[i].kind == kTemp && last_use[i] >= 0 && static_cast<int64_t>(i) != output) p->steps[last_use[i]].free_after.push_back(static_cast<int>(i));
  return p;
}

// w'[c, :] = w[c, :] * a[c], b'[c] = bias[c] * a[c] + b[c]: batch norm folded
// into the convolution before it (not bitwise: see src/plan/README in the docs).
std::pair<BufPtr, BufPtr> fold_conv_bn(const Buf& w, const Buf* bias, const Buf* gamma, const Buf* beta, const Buf& mean, const Buf& var, float eps) {
  const size_t C = mean.n;
  if (C == 0 || var.n != C || (gamma && gamma->n != C) || (beta && beta->n != C) || (bias && bias->n != C) || w.n % C)
    throw Error("foldBatchNorm: the convolution and the batch norm disagree in channels");
  std::vector<float> a(C), b(C);
  bn_tables(gamma ? gamma->p : nullptr, beta ? beta->p : nullptr, mean.p, var.p, static_cast<int64_t>(C), eps, a.data(), b.data());
  auto nw = std::make_shared<Buf>(w.n), nb = std::make_shared<Buf>(C);
  const size_t K = w.n / C;
  for (size_t c = 0; c < C; c++) {
    for (size_t k = 0; k < K; k++) nw->p[c * K + k] = w.p[c * K + k] * a[c];
    nb->p[c] = (bias ? bias->p[c] : 0.f) * a[c] + b[c];
  }
  return {nw, nb};
}

}  // namespace plan
}  // namespace blasnet
