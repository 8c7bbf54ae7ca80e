// blasnet_mpi.node: the optional MPI part of blasnet (src/distributed), a
// separate addon so that the main one (blasnet.node) has no MPI symbols and
// loads on machines without MPI. Built by CMakeLists.txt only when MPI is found.
//
// It works on the main addon's tensor storage in place: a handle is a JS object
// that blasnet.node wrapped (napi_wrap) and type-tagged; N-API's wrap and tag
// live in per-isolate private symbols, so this addon can check the same tag and
// unwrap the same Storage (native/common.h) with no copy through JavaScript.
//
// Every MPI call reports failure as a JS Error (MPI_ERRORS_RETURN on
// MPI_COMM_WORLD), never an abort of its own; a rank that dies is ended by
// mpirun, which then ends the others (see README "Distributed training").
#include <mpi.h>
#include <napi.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../common.h"

namespace {

using blasnet::Storage;

// The same tag as native/binding.cc's kStorageTag (the handles blasnet.node makes).
const napi_type_tag kStorageTag = {0x6a1f3c2b9d4e5f60ULL, 0x8b7c6d5e4f3a2b1cULL};

bool g_initialized_here = false;
std::vector<float> g_bucket;  // packing buffer for multi-tensor collectives, reused

// Copies the tensors one after another into g_bucket (one MPI call for all of them); total: their floats.
float* pack(const std::vector<Storage*>& ts, size_t& total) {
  total = 0;
  for (Storage* s : ts) total += s->numel;
  if (g_bucket.size() < total) g_bucket.resize(total);
  float* b = g_bucket.data();
  size_t off = 0;
  for (Storage* s : ts) {
    if (s->numel) std::memcpy(b + off, s->data, s->numel * sizeof(float));
    off += s->numel;
  }
  return b;
}

// The reverse of pack, times scale (1: a plain copy).
void unpack(const std::vector<Storage*>& ts, const float* b, float scale) {
  size_t off = 0;
  for (Storage* s : ts) {
    if (scale != 1.0f)
      for (size_t i = 0; i < s->numel; i++) s->data[i] = b[off + i] * scale;
    else if (s->numel)
      std::memcpy(s->data, b + off, s->numel * sizeof(float));
    off += s->numel;
  }
}

// ---------------------------------------------------------------------------
// Watchdog: a collective that waits longer than the timeout (a rank stuck, or
// gone in a way mpirun did not notice) ends this process with a message; mpirun
// then ends the others. A thread that only reads atomics and calls no MPI.
std::atomic<int64_t> g_enter_ms{0};       // when the current collective began; 0: none
std::atomic<const char*> g_op{""};
std::atomic<int64_t> g_timeout_ms{0};     // 0: no timeout
std::atomic<bool> g_watchdog_started{false};
int g_rank = 0, g_size = 1;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void watchdog() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t t = g_timeout_ms.load(), e = g_enter_ms.load();
    if (t > 0 && e > 0 && now_ms() - e > t) {
      std::fprintf(stderr,
                   "blasnet: rank %d of %d: distributed.%s waited more than %.1f s for the other ranks (the timeout): "
                   "a rank is stuck or gone; ending this rank so that the job ends\n",
                   g_rank, g_size, g_op.load(), t / 1000.0);
      std::fflush(stderr);
      _exit(1);
    }
  }
}

struct InCollective {  // marks a collective for the watchdog
  explicit InCollective(const char* op) {
    g_op = op;
    g_enter_ms = now_ms();
  }
  ~InCollective() { g_enter_ms = 0; }
};

[[noreturn]] void fail(Napi::Env env, const std::string& msg) {
  throw Napi::Error::New(env, "distributed: " + msg);
}

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, len);
}

void check(Napi::Env env, int code, const char* what) {
  if (code != MPI_SUCCESS) fail(env, std::string(what) + " failed: " + mpi_error(code));
}

std::thread::id g_mpi_thread;  // the thread that called init(): MPI_THREAD_FUNNELED allows no other

void need_init(Napi::Env env, const char* op) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin) fail(env, std::string(op) + ": MPI was finalized; no collective can run after finalize()");
  if (!init) fail(env, std::string(op) + ": call distributed.init() first");
  if (std::this_thread::get_id() != g_mpi_thread)
    fail(env, std::string(op) + ": called from another thread (a worker_thread) than the one that called init(); MPI is used from that thread only");
}

Storage* unwrap(Napi::Env env, const Napi::Value& v, const std::string& what) {
  bool ok = false;
  if (v.IsObject()) napi_check_object_type_tag(env, v, &kStorageTag, &ok);
  if (!ok) throw Napi::TypeError::New(env, "distributed: " + what + " is not a tensor storage handle");
  void* p = nullptr;
  if (napi_unwrap(env, v, &p) != napi_ok || !p) fail(env, what + " belongs to a disposed tensor");
  return static_cast<Storage*>(p);
}

std::vector<Storage*> storages(const Napi::CallbackInfo& info, size_t i, const char* op) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) throw Napi::TypeError::New(env, std::string("distributed: ") + op + " expects an array of handles");
  auto arr = info[i].As<Napi::Array>();
  std::vector<Storage*> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) out[k] = unwrap(env, arr.Get(k), std::string(op) + " tensor " + std::to_string(k));
  return out;
}

int int_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string("distributed: ") + what + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<int>(d)) throw Napi::RangeError::New(info.Env(), std::string("distributed: ") + what + " must be an integer");
  return static_cast<int>(d);
}

// MPI counts are int: a collective on more floats is split in chunks.
constexpr size_t kMaxChunk = size_t{1} << 30;

void allreduce_floats(Napi::Env env, float* p, size_t n) {
  for (size_t off = 0; off < n; off += kMaxChunk) {
    int c = static_cast<int>(std::min(kMaxChunk, n - off));
    check(env, MPI_Allreduce(MPI_IN_PLACE, p + off, c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allReduce (MPI_Allreduce)");
  }
}

void bcast_floats(Napi::Env env, float* p, size_t n, int root) {
  for (size_t off = 0; off < n; off += kMaxChunk) {
    int c = static_cast<int>(std::min(kMaxChunk, n - off));
    check(env, MPI_Bcast(p + off, c, MPI_FLOAT, root, MPI_COMM_WORLD), "broadcast (MPI_Bcast)");
  }
}

int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// init() → { rank, worldSize, threadLevel, library }. Idempotent.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin) fail(env, "init: MPI was already finalized in this process; it cannot be initialised twice");
  int provided = MPI_THREAD_SINGLE;
  if (!init) {
    // Only the main JS thread calls MPI; FUNNELED says so.
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) fail(env, "init: MPI_Init_thread failed: " + mpi_error(rc));
    g_initialized_here = true;
    g_mpi_thread = std::this_thread::get_id();
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  } else {
    MPI_Query_thread(&provided);
    if (g_mpi_thread == std::thread::id()) g_mpi_thread = std::this_thread::get_id();  // initialised by someone else
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  g_rank = rank;
  g_size = world_size();
  if (!g_watchdog_started.exchange(true)) std::thread(watchdog).detach();
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  std::string library(lib, len);
  auto nl = library.find_first_of("\r\n,");
  if (nl != std::string::npos) library.resize(nl);
  auto o = Napi::Object::New(env);
  o.Set("rank", rank);
  o.Set("worldSize", world_size());
  o.Set("threadLevel", provided == MPI_THREAD_FUNNELED ? "funneled" : provided == MPI_THREAD_SERIALIZED ? "serialized"
                       : provided == MPI_THREAD_MULTIPLE ? "multiple" : "single");
  o.Set("library", library);
  return o;
}

// allReduce(handles, mean): sums (then divides by the world size when mean)
// every tensor in place, in ONE MPI_Allreduce: a single tensor directly on its
// storage, several packed into one buffer (a bucket) and unpacked.
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_init(env, "allReduce");
  std::vector<Storage*> ts = storages(info, 0, "allReduce");
  InCollective guard("allReduce");
  bool mean = info[1].ToBoolean().Value();
  const float scale = 1.0f / static_cast<float>(world_size());
  if (ts.size() == 1) {
    allreduce_floats(env, ts[0]->data, ts[0]->numel);
    if (mean)
      for (size_t i = 0; i < ts[0]->numel; i++) ts[0]->data[i] *= scale;
    return env.Undefined();
  }
  size_t total = 0;
  float* b = pack(ts, total);
  allreduce_floats(env, b, total);
  unpack(ts, b, mean ? scale : 1.0f);
  return env.Undefined();
}

// broadcast(handles, root): every tensor takes root's values, one MPI_Bcast.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_init(env, "broadcast");
  std::vector<Storage*> ts = storages(info, 0, "broadcast");
  int root = int_arg(info, 1, "broadcast root");
  if (root < 0 || root >= world_size())
    fail(env, "broadcast: root must be a rank in [0, " + std::to_string(world_size() - 1) + "], got " + std::to_string(root));
  InCollective guard("broadcast");
  if (ts.size() == 1) {
    bcast_floats(env, ts[0]->data, ts[0]->numel, root);
    return env.Undefined();
  }
  size_t total = 0;
  float* b = pack(ts, total);
  bcast_floats(env, b, total, root);
  unpack(ts, b, 1.0f);
  return env.Undefined();
}

// allReduceNumbers(Float64Array): element-wise sum over ranks, in place (metrics).
Napi::Value AllReduceNumbers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_init(env, "allReduceNumbers");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "distributed: allReduceNumbers expects a Float64Array");
  auto a = info[0].As<Napi::Float64Array>();
  if (a.ElementLength() > (1u << 20)) fail(env, "allReduceNumbers: at most 2^20 numbers");
  InCollective guard("allReduceNumbers");
  check(env, MPI_Allreduce(MPI_IN_PLACE, a.Data(), static_cast<int>(a.ElementLength()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD),
        "allReduceNumbers (MPI_Allreduce)");
  return env.Undefined();
} 

// allGatherString(s) → every rank's string, in rank order (shape signatures).
Napi::Value AllGatherString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_init(env, "allGather");
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "distributed: allGatherString expects a string");
  std::string s = info[0].As<Napi::String>().Utf8Value();
  if (s.size() > (1u << 24)) fail(env, "allGatherString: the string is longer than 16 MiB");
  int n = world_size();
  int len = static_cast<int>(s.size());
  InCollective guard("allGather");
  std::vector<int> lens(n), offs(n);
  check(env, MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD), "allGather (MPI_Allgather)");
  int64_t total = 0;
  for (int r = 0; r < n; r++) {
    offs[r] = static_cast<int>(total);
    total += lens[r];
    if (lens[r] < 0 || total > (int64_t{1} << 30)) fail(env, "allGatherString: the strings are too long together");
  }
  std::vector<char> all(static_cast<size_t>(total) + 1);
  check(env, MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, MPI_COMM_WORLD),
        "allGather (MPI_Allgatherv)");
  auto out = Napi::Array::New(env, n);
  for (int r = 0; r < n; r++) out.Set(r, Napi::String::New(env, all.data() + offs[r], lens[r]));
  return out;
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_init(env, "barrier");
  InCollective guard("barrier");
  check(env, MPI_Barrier(MPI_COMM_WORLD), "barrier (MPI_Barrier)");
  return env.Undefined();
}

// abort(code): ends every rank of the job (MPI_Abort), for a rank that failed.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Abort(MPI_COMM_WORLD, int_arg(info, 0, "abort code"));
  return info.Env().Undefined();
}

// setTimeout(seconds): the watchdog's limit on one collective's wait (0: none).
Napi::Value SetTimeout(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "distributed: timeout must be a number");
  double s = info[0].As<Napi::Number>().DoubleValue();
  if (!(s >= 0) || s > 1e9) throw Napi::RangeError::New(info.Env(), "distributed: timeout must be in [0, 1e9] seconds");
  g_timeout_ms = static_cast<int64_t>(s * 1000.0 + 0.5);
  return info.Env().Undefined();
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  g_timeout_ms = 0;  // MPI_Finalize synchronises the ranks: no timeout on it
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) check(info.Env(), MPI_Finalize(), "finalize (MPI_Finalize)");
  return info.Env().Undefined();
}

Napi::Value State(const Napi::CallbackInfo& info) {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return Napi::String::New(info.Env(), fin ? "finalized" : init ? "initialized" : "uninitialized");
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("allReduce", Napi::Function::New(env, AllReduce, "allReduce"));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast, "broadcast"));
  exports.Set("allReduceNumbers", Napi::Function::New(env, AllReduceNumbers, "allReduceNumbers"));
  exports.Set("allGatherString", Napi::Function::New(env, AllGatherString, "allGatherString"));
  exports.Set("barrier", Napi::Function::New(env, Barrier, "barrier"));
  exports.Set("abort", Napi::Function::New(env, Abort, "abort"));
  exports.Set("finalize", Napi::Function::New(env, Finalize, "finalize"));
  exports.Set("setTimeout", Napi::Function::New(env, SetTimeout, "setTimeout"));
  exports.Set("state", Napi::Function::New(env, State, "state"));
  return exports;
}

}  // namespace

NODE_API_MODULE(blasnet_mpi, InitModule)
