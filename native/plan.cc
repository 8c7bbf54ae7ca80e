// Inference plans: a compiled forward pass (conv, pooling, activations, linear,
// eval-mode batch norm, softmax) that runs in one native call, on the calling
// thread or on a libuv worker (AsyncWorker). Weights are copied in when the plan
// is built, so a plan is immutable: concurrent runs share it safely, and later
// training or disposal of the module's tensors cannot affect a running plan.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding.h"
#include "kernels.h"

namespace blasnet {
namespace {

enum PlanOp { kConv = 0, kAct, kMaxPool, kAvgPool, kAdaptiveAvg, kLinear, kBatchNorm, kSoftmax };

struct Buffer {  // plan-owned weights
  std::vector<float> v;
  const float* data() const { return v.empty() ? nullptr : v.data(); }
};

struct Step {
  int op = 0;
  int64_t in = 0, out = 0;  // elements per sample
  ConvGeom conv{};          // N set per run
  PoolGeom pool{};          // planes = channels per sample; scaled by N per run
  bool include_pad = true;
  int act = 0;              // UnaryOp for kAct
  float scalar = 0.f;
  int64_t a = 0, b = 0, c = 0, d = 0, e = 0;  // op-specific sizes
  bool log = false;
  bool relu = false;  // fused max(0, .) on the output
  Buffer w, bias, mean, var;  // var: batch norm's running variance
};

struct Plan {
  std::vector<Step> steps;
  int64_t in = 0, out = 0;  // elements per sample in and out
};

const napi_type_tag kPlanTag = {0x1f2e3d4c5b6a7980ULL, 0x0a1b2c3d4e5f6071ULL};

// Runs the plan on x [N, in] → y [N, out]. Pure C++: safe on any thread.
void run_plan(const Plan& p, const float* x, float* y, int64_t N) {
  const float* cur = x;
  std::unique_ptr<Scratch> bufs[2];
  int which = 0;
  for (size_t si = 0; si < p.steps.size(); si++) {
    const Step& s = p.steps[si];
    const bool last = si + 1 == p.steps.size();
    float* dst;
    if (last) {
      dst = y;
    } else {
      bufs[which] = std::make_unique<Scratch>(static_cast<size_t>(N * s.out));
      dst = bufs[which]->p;
    }
    switch (s.op) {
      case kConv: {
        ConvGeom g = s.conv;
        g.N = N;
        conv_forward(g, cur, s.w.data(), s.bias.data(), dst, s.relu);
        break;
      }
      case kAct:
        unary(s.act, cur, dst, N * s.in, s.scalar);
        break;
      case kMaxPool: {
        PoolGeom g = s.pool;
        g.planes *= N;
        max_pool_forward(g, cur, dst, nullptr, s.relu);
        break;
      }
      case kAvgPool: {
        PoolGeom g = s.pool;
        g.planes *= N;
        avg_pool_forward(g, cur, dst, s.include_pad);
        break;
      }
      case kAdaptiveAvg:
        adaptive_avg_pool_forward(s.a * N, s.b, s.c, s.d, s.e, cur, dst);
        break;
      case kLinear:
        linear_forward(cur, s.w.data(), s.bias.data(), dst, N, s.in, s.out, s.relu);
        break;
      case kBatchNorm:  // eval mode: the running statistics; a = C, b = S (the same kernel as forward)
        batch_norm_forward(cur, s.w.data(), s.bias.data(), dst, nullptr, nullptr, const_cast<float*>(s.mean.data()),
                           const_cast<float*>(s.var.data()), N, s.a, s.b, false, 0.f, s.scalar);
        break;
      case kSoftmax:  // a = outer per sample, b = size, c = inner
        softmax(cur, dst, s.a * N, s.b, s.c, s.log);
        break;
      default:
        throw Error("plan: unknown op");
    }
    cur = dst;
    // keep the buffer just written; free the one before it
    which ^= 1;
    bufs[which].reset();
  }
  if (p.steps.empty()) std::memcpy(y, x, sizeof(float) * N * p.in);
}

Buffer copy_of(const Napi::Value& v, const char* what, size_t expect) {
  Buffer b;
  if (v.IsNull() || v.IsUndefined()) return b;
  Storage* s = unwrap(v, what);
  if (s->numel != expect)
    throw Napi::Error::New(v.Env(), std::string("blasnet native: plan ") + what + " has " + std::to_string(s->numel) +
                                        " elements, expected " + std::to_string(expect));
  b.v.assign(s->data, s->data + s->numel);
  return b;
}

int64_t num(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("blasnet native: plan step needs a number '") + key + "'");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9e15)
    throw Napi::RangeError::New(o.Env(), std::string("blasnet native: plan step '") + key + "' must be a non-negative integer");
  return static_cast<int64_t>(d);
}

std::vector<int64_t> nums(const Napi::Object& o, const char* key, size_t n) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != n)
    throw Napi::TypeError::New(o.Env(), std::string("blasnet native: plan step needs '") + key + "' with " + std::to_string(n) + " numbers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value e = arr.Get(i);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != std::floor(d) || d > 9e15) throw Napi::RangeError::New(o.Env(), std::string("blasnet native: plan '") + key + "' must hold non-negative integers");
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

Plan* unwrap_plan(const Napi::Value& v) {
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(v.Env(), v, &kPlanTag, &ok);
  if (!ok) throw Napi::TypeError::New(v.Env(), "blasnet native: not an inference plan");
  return v.As<Napi::External<Plan>>().Data();
}

// planCreate(steps: object[], inPerSample) → External<Plan>
Napi::Value PlanCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "blasnet native: planCreate expects an array of steps");
  auto arr = info[0].As<Napi::Array>();
  auto plan = std::make_unique<Plan>();
  if (!info[1].IsNumber() || info[1].As<Napi::Number>().Int64Value() < 1) throw Napi::TypeError::New(env, "blasnet native: planCreate expects the input size per sample");
  plan->in = info[1].As<Napi::Number>().Int64Value();
  int64_t cur = plan->in;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value sv = arr.Get(i);
    if (!sv.IsObject()) throw Napi::TypeError::New(env, "blasnet native: plan step must be an object");
    auto o = sv.As<Napi::Object>();
    Step s;
    s.op = static_cast<int>(num(o, "op"));
    s.in = num(o, "in");
    s.out = num(o, "out");
    s.relu = o.Get("relu").ToBoolean().Value();
    if (s.relu && s.op != kConv && s.op != kLinear && s.op != kMaxPool) throw Napi::Error::New(env, "blasnet native: plan relu fusion only on conv, linear and max pool");
    if (s.in != cur) throw Napi::Error::New(env, "blasnet native: plan step " + std::to_string(i) + " expects " + std::to_string(s.in) + " inputs per sample but gets " + std::to_string(cur));
    switch (s.op) {
      case kConv: {
        auto g = nums(o, "geom", 22);
        s.conv = ConvGeom{1, g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15], g[16], g[17], g[18], g[19], g[20], g[21]};
        const ConvGeom& c = s.conv;
        if (c.groups < 1 || c.C % c.groups || c.Cout % c.groups || c.sd < 1 || c.sh < 1 || c.sw < 1 || c.dd < 1 || c.dh < 1 || c.dw < 1 || c.kd < 1 || c.kh < 1 || c.kw < 1)
          throw Napi::Error::New(env, "blasnet native: plan conv geometry is invalid");
        if (s.in != c.C * c.in_plane() || s.out != c.Cout * c.out_plane()) throw Napi::Error::New(env, "blasnet native: plan conv sizes disagree");
        s.w = copy_of(o.Get("weight"), "conv weight", c.Cout * (c.C / c.groups) * c.kvol());
        s.bias = copy_of(o.Get("bias"), "conv bias", c.Cout);
        break;
      }
      case kAct:
        s.act = static_cast<int>(num(o, "act"));
        s.scalar = static_cast<float>(o.Get("scalar").IsNumber() ? o.Get("scalar").As<Napi::Number>().DoubleValue() : 0.0);
        if (s.act != kRelu && s.act != kSigmoid && s.act != kTanh && s.act != kLeakyRelu) throw Napi::Error::New(env, "blasnet native: plan activation unsupported");
        if (s.out != s.in) throw Napi::Error::New(env, "blasnet native: plan activation sizes disagree");
        break;
      case kMaxPool:
      case kAvgPool: {
        auto g = nums(o, "geom", 16);
        s.pool = PoolGeom{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]};
        const PoolGeom& p = s.pool;
        if (p.kd < 1 || p.kh < 1 || p.kw < 1 || p.sd < 1 || p.sh < 1 || p.sw < 1) throw Napi::Error::New(env, "blasnet native: plan pool geometry is invalid");
        if (s.in != p.planes * p.D * p.H * p.W || s.out != p.planes * p.OD * p.OH * p.OW) throw Napi::Error::New(env, "blasnet native: plan pool sizes disagree");
        s.include_pad = o.Get("includePad").ToBoolean().Value();
        break;
      }
      case kAdaptiveAvg:
        s.a = num(o, "planes"), s.b = num(o, "H"), s.c = num(o, "W"), s.d = num(o, "OH"), s.e = num(o, "OW");
        if (s.d < 1 || s.e < 1 || s.in != s.a * s.b * s.c || s.out != s.a * s.d * s.e) throw Napi::Error::New(env, "blasnet native: plan adaptive pool sizes disagree");
        break;
      case kLinear:
        s.w = copy_of(o.Get("weight"), "linear weight", s.in * s.out);
        s.bias = copy_of(o.Get("bias"), "linear bias", s.out);
        break;
      case kBatchNorm: {
        s.a = num(o, "C");
        s.b = num(o, "S");
        if (s.in != s.a * s.b || s.out != s.in) throw Napi::Error::New(env, "blasnet native: plan batch norm sizes disagree");
        s.mean = copy_of(o.Get("mean"), "running mean", s.a);
        s.var = copy_of(o.Get("var"), "running var", s.a);
        s.scalar = static_cast<float>(o.Get("eps").IsNumber() ? o.Get("eps").As<Napi::Number>().DoubleValue() : 1e-5);
        if (s.mean.v.empty() || s.var.v.empty()) throw Napi::Error::New(env, "blasnet native: plan batch norm needs running statistics");
        s.w = copy_of(o.Get("weight"), "batch norm weight", s.a);
        s.bias = copy_of(o.Get("bias"), "batch norm bias", s.a);
        break;
      }
      case kSoftmax:
        s.a = num(o, "outer"), s.b = num(o, "size"), s.c = num(o, "inner");
        s.log = o.Get("log").ToBoolean().Value();
        if (s.in != s.a * s.b * s.c || s.out != s.in) throw Napi::Error::New(env, "blasnet native: plan softmax sizes disagree");
        break;
      default:
        throw Napi::Error::New(env, "blasnet native: unknown plan op " + std::to_string(s.op));
    }
    cur = s.out;
    plan->steps.push_back(std::move(s));
  }
  plan->out = cur;
  size_t bytes = 0;
  for (auto& s : plan->steps) bytes += (s.w.v.size() + s.bias.v.size() + s.mean.v.size() + s.var.v.size()) * sizeof(float);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  auto ext = Napi::External<Plan>::New(env, plan.release(), [bytes](Napi::Env e, Plan* p) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(bytes));
    delete p;
  });
  napi_type_tag_object(env, ext, &kPlanTag);
  return ext;
}

int64_t batch_of(Napi::Env env, const Plan& p, size_t numel) {
  if (p.in == 0 || numel % static_cast<size_t>(p.in)) throw Napi::Error::New(env, "blasnet native: plan input size is not a multiple of " + std::to_string(p.in));
  return static_cast<int64_t>(numel / p.in);
}

// planRun(plan, x) → y (synchronous, on this thread)
Napi::Value PlanRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Plan* p = unwrap_plan(info[0]);
  Storage* x = unwrap(info[1], "input");
  int64_t N = batch_of(env, *p, x->numel);
  Storage* y = new_storage(env, static_cast<size_t>(N * p->out));
  Napi::Value h = wrap(env, y);
  try {
    run_plan(*p, x->data, y->data, N);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("blasnet native: ") + e.what());
  }
  return h;
}

// Runs a plan on a libuv worker thread. The input was copied when the call was
// made (so the caller may change or dispose its tensor at once); the plan is
// kept alive by a reference for the duration.
class PlanWorker : public Napi::AsyncWorker {
 public:
  PlanWorker(Napi::Env env, Napi::Value plan_ref, Plan* plan, std::vector<float>&& input, int64_t N)
      : Napi::AsyncWorker(env, "blasnet.plan"), deferred_(Napi::Promise::Deferred::New(env)), plan_(plan), x_(std::move(input)), N_(N) {
    plan_ref_ = Napi::Persistent(plan_ref);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      y_ = pool_alloc(static_cast<size_t>(N_ * plan_->out));
      run_plan(*plan_, x_.data(), y_, N_);
    } catch (const std::exception& e) {
      if (y_) pool_free(y_, static_cast<size_t>(N_ * plan_->out));
      y_ = nullptr;
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    auto* s = new Storage();
    s->data = y_;
    s->numel = static_cast<size_t>(N_ * plan_->out);
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(s->numel * sizeof(float)));
    deferred_.Resolve(wrap(env, s));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(Napi::Error::New(Env(), std::string("blasnet native: ") + e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> plan_ref_;
  Plan* plan_;
  std::vector<float> x_;
  int64_t N_;
  float* y_ = nullptr;
};

// planRunAsync(plan, x) → Promise<y>
Napi::Value PlanRunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Plan* p = unwrap_plan(info[0]);
  Storage* x = unwrap(info[1], "input");
  int64_t N = batch_of(env, *p, x->numel);
  std::vector<float> snapshot(x->data, x->data + x->numel);
  auto* w = new PlanWorker(env, info[0], p, std::move(snapshot), N);
  auto promise = w->Promise();
  w->Queue();
  return promise;
}

}  // namespace

void init_plan(Napi::Env env, Napi::Object exports) {
  exports.Set("planCreate", Napi::Function::New(env, PlanCreate, "planCreate"));
  exports.Set("planRun", Napi::Function::New(env, PlanRun, "planRun"));
  exports.Set("planRunAsync", Napi::Function::New(env, PlanRunAsync, "planRunAsync"));
}

}  // namespace blasnet
