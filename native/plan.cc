// The N-API side of inference plans: weight stores, plan handles, and the
// serving runtime that runs plans off the event loop.
//
// Serving runtime. run() calls are queued to one executor thread per process
// (each plan run already spreads over blasnet's thread pool), so a burst of
// calls costs the event loop one copy of the input and one queue push each.
// Finished runs go to their environment's completion queue; one thread-safe
// function call wakes the environment, which then delivers completions in
// slices (at most kSliceJobs or kSliceNs per turn of the event loop, the rest
// on the next turn via setImmediate), so a thousand completions never land in
// one turn. An environment that is torn down (worker.terminate(),
// process.exit() in a worker) marks its queue closed: runs still in flight for
// it finish on the executor and are dropped quietly, touching nothing of the
// dead environment.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <memory>
#include <thread>

#include "binding_args.h"
#include "kernels.h"
#include "plan.h"

namespace blasnet {
namespace {
using namespace bind;

const napi_type_tag kStoreTag = {0x2c4e6a8b0d1f3a5cULL, 0x7e9fa1b3c5d7e9f1ULL};
const napi_type_tag kPlanTag = {0x1f2e3d4c5b6a7980ULL, 0x0a1b2c3d4e5f6071ULL};

template <class T>
struct Holder {
  std::shared_ptr<T> p;
  int64_t reported = 0;  // bytes reported to V8 as external memory
};

template <class T>
Napi::Value make_holder(Napi::Env env, std::shared_ptr<T> p, int64_t bytes, const napi_type_tag& tag) {
  auto* h = new Holder<T>{std::move(p), bytes};
  if (bytes) Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto ext = Napi::External<Holder<T>>::New(env, h, [](Napi::Env e, Holder<T>* hp) {
    if (hp->reported) Napi::MemoryManagement::AdjustExternalMemory(e, -hp->reported);
    delete hp;
  });
  napi_type_tag_object(env, ext, &tag);
  return ext;
}

template <class T>
Holder<T>* holder(const Napi::Value& v, const napi_type_tag& tag, const char* what) {
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(v.Env(), v, &tag, &ok);
  if (!ok) throw Napi::TypeError::New(v.Env(), std::string("blasnet native: not ") + what);
  return v.As<Napi::External<Holder<T>>>().Data();
}

template <class T>
void release(Napi::Env env, Holder<T>* h) {
  h->p.reset();
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -h->reported);
  h->reported = 0;
}

plan::ConstStore& store_of(const Napi::Value& v) {
  auto* h = holder<plan::ConstStore>(v, kStoreTag, "a weight store");
  if (!h->p) fail(v.Env(), "the weight store was disposed");
  return *h->p;
}

plan::PlanPtr plan_of(const Napi::Value& v) {
  auto* h = holder<const plan::Plan>(v, kPlanTag, "an inference plan");
  if (!h->p) fail(v.Env(), "the plan was disposed");
  return h->p;
}

const Napi::Float64Array f64(const CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), std::string("blasnet native: ") + what + " must be a Float64Array");
  return info[i].As<Napi::Float64Array>();
}

// A tensor handle or a Float32Array: pointer and element count.
std::pair<const float*, size_t> input_data(const CallbackInfo& info, size_t i) {
  if (info[i].IsTypedArray()) {
    if (info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(info.Env(), "blasnet native: the input must be a tensor or a Float32Array");
    auto a = info[i].As<Napi::Float32Array>();
    return {a.Data(), a.ElementLength()};
  }
  Storage* s = unwrap(info[i], "input");
  return {s->data, s->numel};
}

// ---------------------------------------------------------------------------
// weight stores

FN(StoreCreate) { return make_holder(env, std::make_shared<plan::ConstStore>(), 0, kStoreTag); } END

int64_t add_buf(Napi::Env env, const Napi::Value& sv, plan::BufPtr b) {
  auto* h = holder<plan::ConstStore>(sv, kStoreTag, "a weight store");
  if (!h->p) fail(env, "the weight store was disposed");
  h->p->bufs.push_back(b);
  const int64_t bytes = static_cast<int64_t>(b->n * sizeof(float));
  h->p->bytes += b->n * sizeof(float);
  h->reported += bytes;
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return static_cast<int64_t>(h->p->bufs.size()) - 1;
}

// storeAdd(store, handle | Float32Array) → [index, numel]: a copy of the data
FN(StoreAdd) {
  store_of(info[0]);
  auto [p, n] = input_data(info, 1);
  auto b = std::make_shared<plan::Buf>(n);
  if (n) std::memcpy(b->p, p, n * sizeof(float));
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, Napi::Number::New(env, static_cast<double>(add_buf(env, info[0], b))));
  r.Set(1u, Napi::Number::New(env, static_cast<double>(n)));
  return r;
} END

// storeFoldConvBN(store, w, bias, gamma, beta, mean, var, eps) → [w', b'] (indices; -1 for absent operands)
FN(StoreFoldConvBN) {
  plan::ConstStore& st = store_of(info[0]);
  auto get = [&](size_t i, bool optional) -> const plan::Buf* {
    int64_t k = i64(info, i, "constant index");
    if (k < 0 && optional) return nullptr;
    if (k < 0 || static_cast<size_t>(k) >= st.bufs.size()) fail(env, "foldConvBN: constant index out of range");
    return st.bufs[k].get();
  };
  const plan::Buf *w = get(1, false), *bias = get(2, true), *gamma = get(3, true), *beta = get(4, true), *mean = get(5, false), *var = get(6, false);
  auto [nw, nb] = plan::fold_conv_bn(*w, bias, gamma, beta, *mean, *var, f32(info, 7, "eps"));
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, Napi::Number::New(env, static_cast<double>(add_buf(env, info[0], nw))));
  r.Set(1u, Napi::Number::New(env, static_cast<double>(add_buf(env, info[0], nb))));
  return r;
} END

FN(StoreBytes) { return Napi::Number::New(env, static_cast<double>(store_of(info[0]).bytes)); } END

FN(StoreDispose) {
  release(env, holder<plan::ConstStore>(info[0], kStoreTag, "a weight store"));
  return env.Undefined();
} END

// ---------------------------------------------------------------------------
// plans

// planCreate(store, slots: Float64Array, steps: Float64Array, output, fixedN) → plan
FN(PlanCreate) {
  auto* sh = holder<plan::ConstStore>(info[0], kStoreTag, "a weight store");
  if (!sh->p) fail(env, "the weight store was disposed");
  auto slots = f64(info, 1, "slots"), steps = f64(info, 2, "steps");
  auto p = plan::build(sh->p, slots.Data(), slots.ElementLength(), steps.Data(), steps.ElementLength(), i64(info, 3, "output slot"),
                       nonneg(info, 4, "fixed batch"));
  const int64_t bytes = static_cast<int64_t>(p->bytes + sizeof(plan::Plan) + p->steps.size() * sizeof(plan::Step));
  return make_holder<const plan::Plan>(env, std::move(p), bytes, kPlanTag);
} END

FN(PlanDispose) {
  release(env, holder<const plan::Plan>(info[0], kPlanTag, "an inference plan"));
  return env.Undefined();
} END

Napi::Value wrap_output(Napi::Env env, float* y, size_t n) {
  auto* s = new Storage();
  s->data = y;
  s->numel = n;
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(n * sizeof(float)));
  return wrap(env, s);
}

// planRun(plan, x, N) → y, on this thread
FN(PlanRun) {
  plan::PlanPtr p = plan_of(info[0]);
  auto [x, xn] = input_data(info, 1);
  const int64_t N = nonneg(info, 2, "batch");
  const size_t want = plan::input_numel(*p, N);
  if (xn != want) fail(env, "plan input has " + std::to_string(xn) + " elements, expected " + std::to_string(want));
  float* y = plan::run(*p, x, N);
  return wrap_output(env, y, plan::output_numel(*p, N));
} END

// ---------------------------------------------------------------------------
// the serving runtime

struct EnvQueue;

struct Job {
  plan::PlanPtr plan;
  float* x = nullptr;
  size_t xn = 0;
  int64_t N = 0;
  float* y = nullptr;
  size_t yn = 0;
  std::string error;
  napi_deferred deferred = nullptr;
  std::shared_ptr<EnvQueue> queue;
  void free_buffers() {
    if (x) pool_free(x, xn);
    if (y) pool_free(y, yn);
    x = y = nullptr;
  }
};

constexpr size_t kSliceJobs = 64;                 // completions per turn of the event loop, at most
constexpr int64_t kSliceNs = 2'000'000;           // and about this much time

// One per JS environment (main thread or worker_thread), used on its thread
// except where noted.
struct EnvQueue : std::enable_shared_from_this<EnvQueue> {
  std::mutex mu;                 // guards done, signaled, closed (taken by the executor too)
  std::deque<Job*> done;
  bool signaled = false;         // a wake-up is pending or a drain is running
  std::atomic<bool> closed{false};
  napi_threadsafe_function tsfn = nullptr;
  napi_env env = nullptr;
  napi_ref set_immediate = nullptr, drain_fn = nullptr;
  size_t inflight = 0;           // submitted, not yet settled (JS thread only)
  bool referenced = false;
};

thread_local EnvQueue* tl_queue = nullptr;  // this thread's environment's queue (owned by the tsfn's finalizer data)

// The executor: one thread, one FIFO. Never destroyed (it may be running at exit).
struct Executor {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job*> q;
};
Executor& executor();

void deliver(Job* j) {
  std::shared_ptr<EnvQueue> q = j->queue;
  std::lock_guard<std::mutex> lk(q->mu);
  if (q->closed.load()) {  // the environment is gone: drop quietly
    j->free_buffers();
    j->queue.reset();
    delete j;
    return;
  }
  q->done.push_back(j);
  if (!q->signaled) {
    q->signaled = true;
    napi_call_threadsafe_function(q->tsfn, nullptr, napi_tsfn_nonblocking);
  }
}

void executor_loop() {
  Executor& ex = executor();
  for (;;) {
    Job* j;
    {
      std::unique_lock<std::mutex> lk(ex.mu);
      ex.cv.wait(lk, [&] { return !ex.q.empty(); });
      j = ex.q.front();
      ex.q.pop_front();
    }
    if (!j->queue->closed.load()) {
      try {
        j->y = plan::run(*j->plan, j->x, j->N);
        j->yn = plan::output_numel(*j->plan, j->N);
      } catch (const std::bad_alloc&) {
        j->error = "out of memory";
      } catch (const std::exception& e) {
        j->error = e.what();
      } catch (...) {
        j->error = "unknown error";
      }
    }
    if (j->x) pool_free(j->x, j->xn);
    j->x = nullptr;
    j->plan.reset();
    deliver(j);
  }
}

Executor& executor() {
  static Executor* ex = [] {
    auto* e = new Executor();
    std::thread(executor_loop).detach();
    return e;
  }();
  return *ex;
}

void update_ref(EnvQueue* q) {
  const bool want = q->inflight > 0;
  if (want == q->referenced) return;
  q->referenced = want;
  if (want)
    napi_ref_threadsafe_function(q->env, q->tsfn);
  else
    napi_unref_threadsafe_function(q->env, q->tsfn);
}

// Settles one job's promise; never throws (a dying environment fails N-API calls).
void settle(napi_env env, Job* j) {
  napi_value v = nullptr, probe = nullptr;
  bool ok = false;
  if (j->error.empty() && napi_create_object(env, &probe) == napi_ok) {
    float* y = j->y;
    j->y = nullptr;  // the handle owns it from here (wrap frees it if it fails)
    try {
      v = wrap_output(Napi::Env(env), y, j->yn);
      ok = true;
    } catch (...) {
      j->error = "could not wrap the output";
    }
  } else if (j->error.empty()) {
    j->error = "the environment is shutting down";
  }
  if (ok) {
    napi_resolve_deferred(env, j->deferred, v);
  } else {
    napi_value msg = nullptr, err = nullptr;
    const std::string m = "blasnet native: " + j->error;
    if (napi_create_string_utf8(env, m.c_str(), m.size(), &msg) == napi_ok && napi_create_error(env, nullptr, msg, &err) == napi_ok)
      napi_reject_deferred(env, j->deferred, err);
  }
  j->free_buffers();
  j->queue.reset();
  delete j;
}

// Delivers one slice of completions; schedules the rest with setImmediate.
void drain(napi_env env, EnvQueue* q) {
  const auto t0 = std::chrono::steady_clock::now();
  size_t n = 0;
  for (;;) {
    Job* j = nullptr;
    {
      std::lock_guard<std::mutex> lk(q->mu);
      if (q->done.empty()) {
        q->signaled = false;
        break;
      }
      j = q->done.front();
      q->done.pop_front();
    }
    settle(env, j);
    q->inflight--;
    n++;
    if (n >= kSliceJobs || std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count() > kSliceNs) {
      bool more;
      {
        std::lock_guard<std::mutex> lk(q->mu);
        more = !q->done.empty();
        if (!more) q->signaled = false;
      }
      if (more) {  // the rest on the next turn: timers and I/O run in between
        napi_value si, fn, global, res;
        if (napi_get_reference_value(env, q->set_immediate, &si) == napi_ok && napi_get_reference_value(env, q->drain_fn, &fn) == napi_ok &&
            napi_get_global(env, &global) == napi_ok && napi_call_function(env, global, si, 1, &fn, &res) == napi_ok)
          break;
        // setImmediate is unavailable (a dying environment): keep going now
        std::lock_guard<std::mutex> lk(q->mu);
        q->signaled = true;
        n = 0;
        continue;
      }
      break;
    }
  }
  update_ref(q);
}

// The thread-safe function's callback: a wake-up from the executor.
void on_wake(napi_env env, napi_value, void* ctx, void*) {
  if (!env) return;  // the function is being torn down
  drain(env, static_cast<EnvQueue*>(ctx));
}

// setImmediate target: the next slice.
Napi::Value Drain(const CallbackInfo& info) {
  if (tl_queue && !tl_queue->closed.load()) drain(info.Env(), tl_queue);
  return info.Env().Undefined();
}

// Runs when the environment is torn down (or the function released): close the
// queue under its lock, so the executor never calls into a dead environment.
void on_finalize(napi_env, void* data, void*) {
  auto* holder = static_cast<std::shared_ptr<EnvQueue>*>(data);
  std::shared_ptr<EnvQueue> q = *holder;
  {
    std::lock_guard<std::mutex> lk(q->mu);
    q->closed.store(true);
    for (Job* j : q->done) {
      j->free_buffers();
      j->queue.reset();
      delete j;
    }
    q->done.clear();
  }
  if (tl_queue == q.get()) tl_queue = nullptr;
  delete holder;
}

EnvQueue* queue_for(Napi::Env env) {
  if (tl_queue) return tl_queue;
  auto q = std::make_shared<EnvQueue>();
  q->env = env;
  Napi::Object global = env.Global();
  Napi::Value si = global.Get("setImmediate");
  if (!si.IsFunction()) fail(env, "setImmediate is not available in this environment");
  Napi::Function drain_fn = Napi::Function::New(env, Drain, "blasnetPlanDrain");
  napi_create_reference(env, si, 1, &q->set_immediate);
  napi_create_reference(env, drain_fn, 1, &q->drain_fn);
  auto* holder = new std::shared_ptr<EnvQueue>(q);
  napi_value name = Napi::String::New(env, "blasnet.plan");
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, holder, on_finalize, q.get(), on_wake, &q->tsfn);
  if (st != napi_ok) {
    delete holder;
    fail(env, "could not create the completion queue");
  }
  napi_unref_threadsafe_function(env, q->tsfn);
  tl_queue = q.get();
  return tl_queue;
}

// planSubmit(plan, x, N) → Promise<y>: runs on the executor; x is copied now.
FN(PlanSubmit) {
  plan::PlanPtr p = plan_of(info[0]);
  auto [x, xn] = input_data(info, 1);
  const int64_t N = nonneg(info, 2, "batch");
  const size_t want = plan::input_numel(*p, N);
  if (xn != want) fail(env, "plan input has " + std::to_string(xn) + " elements, expected " + std::to_string(want));
  EnvQueue* q = queue_for(env);
  auto* j = new Job();
  j->plan = std::move(p);
  j->N = N;
  j->xn = xn;
  try {
    j->x = pool_alloc(xn);
  } catch (...) {
    delete j;
    throw;
  }
  if (xn) std::memcpy(j->x, x, xn * sizeof(float));
  napi_value promise;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    j->free_buffers();
    delete j;
    fail(env, "could not create a promise");
  }
  j->queue = q->shared_from_this();
  q->inflight++;
  update_ref(q);
  Executor& ex = executor();
  {
    std::lock_guard<std::mutex> lk(ex.mu);
    ex.q.push_back(j);
  }
  ex.cv.notify_one();
  return Napi::Value(env, promise);
} END

}  // namespace

void init_plan(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("planStoreCreate", StoreCreate);
  EXPORT("planStoreAdd", StoreAdd);
  EXPORT("planStoreFoldConvBN", StoreFoldConvBN);
  EXPORT("planStoreBytes", StoreBytes);
  EXPORT("planStoreDispose", StoreDispose);
  EXPORT("planCreate", PlanCreate);
  EXPORT("planDispose", PlanDispose);
  EXPORT("planRun", PlanRun);
  EXPORT("planSubmit", PlanSubmit);
#undef EXPORT
}

}  // namespace blasnet
