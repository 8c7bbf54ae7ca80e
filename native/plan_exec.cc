// Running a compiled plan: every step calls the kernel eager mode calls, with
// the arguments eager mode passes for this batch size, so results are bitwise
// those of `model.forward` (see src/plan/compile.ts for the fusions that keep
// this true). Each step first re-checks its geometry against the sizes of its
// operands for this run: a malformed plan is an Error, never a stray write.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "conv_direct.h"
#include "plan.h"

namespace blasnet {
namespace plan {

Buf::Buf(size_t numel) : p(pool_alloc(numel)), n(numel) {}
Buf::~Buf() {
  if (p) pool_free(p, n);
}

namespace {

constexpr int64_t kMaxElems = int64_t{1} << 40;

[[noreturn]] void bad(const Step& s, const std::string& why) {
  static const char* names[] = {"conv", "linear", "eltwise", "binary", "unary", "permute", "reduceSum", "reduceMax", "softmax",
                                "matmul", "maxPool", "avgPool", "adaptiveAvgPool", "batchNorm", "fill", "copy", "sumTo", "axpy", "cat",
                                "gather", "scatter", "where", "convTranspose", "pad", "adaptivePool3d"};
  const char* n = s.op >= 0 && s.op < kOpCount ? names[s.op] : "?";
  throw Error(std::string("plan: ") + n + " step: " + why);
}

int64_t mul(const Step& s, int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > kMaxElems) bad(s, "size overflows");
  return r;
}
int64_t prod(const Step& s, const int64_t* v, size_t n) {
  int64_t p = 1;
  for (size_t i = 0; i < n; i++) p = mul(s, p, v[i]);
  return p;
}
// elements reachable from offset 0 with these strides
int64_t span(const Step& s, const int64_t* shape, const int64_t* st, size_t n) {
  int64_t r = 1;
  for (size_t i = 0; i < n; i++) {
    if (shape[i] == 0) return 0;
    int64_t t = mul(s, shape[i] - 1, st[i]);
    if (__builtin_add_overflow(r, t, &r) || r > kMaxElems) bad(s, "size overflows");
  }
  return r;
}

// The state of one run: resolved slot sizes, pointers, and owned temporaries.
struct Run {
  const Plan& p;
  int64_t N;
  std::vector<int64_t> numel;
  std::vector<float*> ptr;
  std::vector<bool> owned;
  Run(const Plan& plan, int64_t n, const float* x) : p(plan), N(n), numel(plan.slots.size()), ptr(plan.slots.size(), nullptr), owned(plan.slots.size(), false) {
    for (size_t i = 0; i < plan.slots.size(); i++) {
      const Slot& sl = plan.slots[i];
      int64_t v = sl.numel.v;
      if (sl.numel.per_n && (__builtin_mul_overflow(v, N, &v) || v > kMaxElems)) throw Error("plan: slot size overflows");
      numel[i] = v;
      if (sl.kind == kInput) ptr[i] = const_cast<float*>(x);
      if (sl.kind == kConst) ptr[i] = sl.c->p;
    }
  }
  ~Run() {
    for (size_t i = 0; i < ptr.size(); i++)
      if (owned[i]) pool_free(ptr[i], static_cast<size_t>(numel[i]));
  }
  const float* in(const Step& s, size_t k, int64_t expect, const char* what) const {
    if (k >= s.in.size() || s.in[k] < 0) bad(s, std::string("no ") + what);
    int sl = s.in[k];
    if (!ptr[sl]) bad(s, std::string(what) + " is not computed yet");
    if (expect >= 0 && numel[sl] != expect)
      bad(s, std::string(what) + " has " + std::to_string(numel[sl]) + " elements, the geometry needs " + std::to_string(expect));
    return ptr[sl];
  }
  const float* opt(const Step& s, size_t k, int64_t expect, const char* what) const {
    if (k >= s.in.size() || s.in[k] < 0) return nullptr;
    return in(s, k, expect, what);
  }
  int64_t size_of(const Step& s, size_t k) const {
    if (k >= s.in.size() || s.in[k] < 0 || !ptr[s.in[k]]) bad(s, "missing operand");
    return numel[s.in[k]];
  }
  // Allocates output k of the step, which the geometry says holds `n` elements.
  float* out(const Step& s, size_t k, int64_t n) {
    if (k >= s.out.size()) bad(s, "missing output");
    int sl = s.out[k];
    if (sl < 0) return nullptr;
    if (numel[sl] != n) bad(s, "output has " + std::to_string(numel[sl]) + " elements, the geometry makes " + std::to_string(n));
    if (ptr[sl]) bad(s, "output slot written twice");
    ptr[sl] = pool_alloc(static_cast<size_t>(n));
    owned[sl] = true;
    return ptr[sl];
  }
  // Output k as a copy of input `from`, or input `from`'s own buffer when this
  // step is its last use and no other operand reads it (in-place ops: scatter).
  float* take_or_copy(const Step& s, size_t k, size_t from) {
    const int sl = s.in[from], o = k < s.out.size() ? s.out[k] : -1;
    if (o < 0) bad(s, "missing output");
    const int64_t n = numel[sl];
    if (numel[o] != n) bad(s, "output and destination differ in size");
    bool last = owned[sl] && std::find(s.free_after.begin(), s.free_after.end(), sl) != s.free_after.end();
    for (size_t i = 0; i < s.in.size() && last; i++)
      if (i != from && s.in[i] == sl) last = false;
    if (!last) {
      float* y = out(s, k, n);
      if (n) std::memcpy(y, ptr[sl], sizeof(float) * n);
      return y;
    }
    if (ptr[o]) bad(s, "output slot written twice");
    ptr[o] = ptr[sl];
    owned[o] = true;
    owned[sl] = false;
    ptr[sl] = nullptr;
    return ptr[o];
  }
  void release(int sl) {
    if (owned[sl]) pool_free(ptr[sl], static_cast<size_t>(numel[sl]));
    owned[sl] = false;
    ptr[sl] = nullptr;
  }
};

struct Ints {
  std::vector<int64_t> v;
  size_t at = 0;
  const Step& s;
  Ints(const Step& st, int64_t N) : s(st) {
    v.reserve(st.ints.size());
    for (const Arg& a : st.ints) {
      int64_t x = a.v;
      if (a.per_n && (__builtin_mul_overflow(x, N, &x) || x > kMaxElems)) bad(st, "argument overflows");
      v.push_back(x);
    }
  }
  int64_t next() {
    if (at >= v.size()) bad(s, "too few integer arguments");
    return v[at++];
  }
  size_t left() const { return v.size() - at; }
  int64_t nonneg() {
    int64_t x = next();
    if (x < 0 || x > kMaxElems) bad(s, "a size is negative or too large");
    return x;
  }
  const int64_t* take(size_t n) {
    if (at + n > v.size()) bad(s, "too few integer arguments");
    const int64_t* p = v.data() + at;
    at += n;
    return p;
  }
};

ConvGeom conv_geom(const Step& s, const int64_t* g) {
  for (int i = 0; i < 22; i++)
    if (g[i] < 0 || g[i] > kMaxElems) bad(s, "conv geometry holds a negative or huge value");
  ConvGeom c{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15], g[16], g[17], g[18], g[19], g[20], g[21]};
  if (c.groups < 1 || c.C % c.groups || c.Cout % c.groups || c.C < 1 || c.Cout < 1) bad(s, "channels and groups disagree");
  if (c.kd < 1 || c.kh < 1 || c.kw < 1 || c.sd < 1 || c.sh < 1 || c.sw < 1 || c.dd < 1 || c.dh < 1 || c.dw < 1) bad(s, "kernel, stride and dilation must be >= 1");
  if (c.D < 1 || c.H < 1 || c.W < 1 || c.OD < 1 || c.OH < 1 || c.OW < 1) bad(s, "spatial sizes must be >= 1");
  // Any output size is memory-safe here: im2col clips every read to the input
  // (after-padding is implicit in the output size and may be anything).
  return c;
}

PoolGeom pool_geom(const Step& s, const int64_t* g) {
  for (int i = 0; i < 16; i++)
    if (g[i] < 0 || g[i] > kMaxElems) bad(s, "pool geometry holds a negative or huge value");
  PoolGeom p{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]};
  if (p.kd < 1 || p.kh < 1 || p.kw < 1 || p.sd < 1 || p.sh < 1 || p.sw < 1) bad(s, "pool kernel and stride must be >= 1");
  if (p.D < 1 || p.H < 1 || p.W < 1 || p.OD < 1 || p.OH < 1 || p.OW < 1) bad(s, "pool sizes must be >= 1");
  if (2 * p.pd > p.kd || 2 * p.ph > p.kh || 2 * p.pw > p.kw) bad(s, "pool padding is more than half the kernel");
  // Every window must start inside the input or its left padding: the kernels read its first element.
  auto fits = [&](int64_t O, int64_t st, int64_t pad, int64_t in) {
    int64_t last;
    if (__builtin_mul_overflow(O - 1, st, &last) || last - pad >= in) bad(s, "output is larger than the input can produce");
  };
  fits(p.OD, p.sd, p.pd, p.D);
  fits(p.OH, p.sh, p.ph, p.H);
  fits(p.OW, p.sw, p.pw, p.W);
  if (p.D * p.H * p.W > std::numeric_limits<int32_t>::max()) bad(s, "pool plane too large");
  return p;
}

// ---------------------------------------------------------------------------
// epilogues

constexpr int64_t kBlock = 1024;  // elements per epilogue block: stays in L1 across micro-ops

// Applies the elementwise micro-ops of s (all but a trailing pool) to y [N, C, S] in place.
// The operands of s's first nops epilogue ops (the other side of each add), checked.
std::vector<const float*> epilogue_operands(const Run& r, const Step& s, int64_t C, int64_t S, size_t nops) {
  std::vector<const float*> other(nops, nullptr);
  for (size_t k = 0; k < nops; k++) {
    const EpOp& e = s.ep[k];
    if (e.kind == kEpAdd) {
      if (e.operand < 0 || !r.ptr[e.operand]) bad(s, "epilogue operand missing");
      if (r.numel[e.operand] != r.N * C * S) bad(s, "epilogue operand has the wrong size");
      other[k] = r.ptr[e.operand];
    } else if (e.kind == kEpAffine) {
      if (!e.scale || !e.shift || static_cast<int64_t>(e.scale->n) != C || static_cast<int64_t>(e.shift->n) != C) bad(s, "epilogue batch norm has the wrong channel count");
    } else if (e.kind != kEpAct) {
      bad(s, "unknown epilogue op");
    }
  }
  return other;
}

// The first nops epilogue ops of s, in order, on elements [i0, i1) of plane `plane`
// (channel c) of y [planes, S]; q points at the plane.
void epilogue_span(const Step& s, size_t nops, const std::vector<const float*>& other, float* q, int64_t plane, int64_t c,
                   int64_t S, int64_t i0, int64_t i1) {
  const int64_t off = plane * S;
  for (size_t k = 0; k < nops; k++) {
    const EpOp& e = s.ep[k];
    switch (e.kind) {
      case kEpAffine: {  // eager batch norm (eval): y = x * a + b
        const float a = e.scale->p[c], sh = e.shift->p[c];
        for (int64_t i = i0; i < i1; i++) q[i] = q[i] * a + sh;
        break;
      }
      case kEpAdd: {
        const float* o = other[k] + off;
        if (e.flag)
          add_nan_first_span(o + i0, q + i0, q + i0, i1 - i0);
        else
          add_nan_first_span(q + i0, o + i0, q + i0, i1 - i0);
        break;
      }
      default:  // kEpAct (epilogue_operands refused anything else)
        if (e.flag == kActRelu)
          for (int64_t i = i0; i < i1; i++) q[i] = q[i] < 0.f ? 0.f : q[i];
        else
          for (int64_t i = i0; i < i1; i++) q[i] = q[i] > 0.f ? q[i] : q[i] * e.real;
    }
  }
}

void apply_epilogue(const Run& r, const Step& s, float* y, int64_t C, int64_t S, size_t nops) {
  const int64_t planes = r.N * C;
  if (nops == 0 || planes == 0 || S == 0) return;
  const std::vector<const float*> other = epilogue_operands(r, s, C, S, nops);
  const int64_t blocks_per_plane = (S + kBlock - 1) / kBlock;
  parallel_for(planes * blocks_per_plane, std::max<int64_t>(1, 16384 / std::min(S, kBlock)), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const int64_t plane = b / blocks_per_plane, i0 = (b % blocks_per_plane) * kBlock, i1 = std::min(S, i0 + kBlock);
      epilogue_span(s, nops, other, y + plane * S, plane, plane % C, S, i0, i1);
    }
  });
}

// Whether s's epilogue ends in a pool (then the step's output is the pool's).
bool pooled_epilogue(const Step& s) {
  return !s.ep.empty() && (s.ep.back().kind == kEpMaxPool || s.ep.back().kind == kEpAvgPool);
}

// Runs the epilogue of s over y [N, C, S] and writes the step's output: y itself
// when the epilogue ends elementwise, else the pool of y (y is then freed here).
void finish(Run& r, const Step& s, float* y, int64_t C, int64_t S) {
  size_t nops = s.ep.size();
  const bool pooled = pooled_epilogue(s);
  if (pooled) nops--;
  apply_epilogue(r, s, y, C, S, nops);
  if (!pooled) return;
  const EpOp& e = s.ep.back();
  int64_t g[16];
  for (int i = 0; i < 16; i++) g[i] = e.geom[i].at(r.N);
  PoolGeom pg = pool_geom(s, g);
  if (mul(s, pg.planes, mul(s, pg.D, mul(s, pg.H, pg.W))) != r.N * C * S) bad(s, "pool epilogue does not match its input");
  float* dst = r.out(s, 0, mul(s, pg.planes, mul(s, pg.OD, mul(s, pg.OH, pg.OW))));
  if (e.kind == kEpMaxPool)
    max_pool_forward(pg, y, dst, nullptr);
  else
    avg_pool_forward(pg, y, dst, e.flag != 0);
}

// Output buffer of a step with an epilogue: the step's output slot, or a
// scratch buffer when a pool follows (freed by the caller's Scratch).
float* pre_output(Run& r, const Step& s, int64_t n, std::unique_ptr<Scratch>& scratch) {
  const bool pooled = pooled_epilogue(s);
  if (!pooled) return r.out(s, 0, n);
  scratch = std::make_unique<Scratch>(static_cast<size_t>(n));
  return scratch->p;
}

// The IndexSpec of a gather / scatter step (plan.h), its index tensors the
// step's operands from `first`, re-checked as binding_index.cc checks eager
// calls: every index value an integer in range (computed indices are only
// known now), every position inside x (of `xn` elements).
IndexSpec index_spec(const Run& r, const Step& s, Ints& a, size_t first, int64_t xn) {
  IndexSpec sp;
  const int64_t rank = a.nonneg();
  if (rank > 16) bad(s, "rank too large");
  const int64_t* sh = a.take(rank);
  const int64_t* xs = a.take(rank);
  sp.shape.assign(sh, sh + rank);
  sp.xstride.assign(xs, xs + rank);
  for (int64_t j = 0; j < rank; j++)
    if (sh[j] < 0 || xs[j] < 0) bad(s, "negative shape or stride");
  sp.offset = a.nonneg();
  const int64_t count = a.nonneg();
  if (count > 64 || first + static_cast<size_t>(count) != s.in.size()) bad(s, "index tensor count disagrees with the operands");
  const int64_t n = prod(s, sh, rank);
  int64_t reach = sp.offset;
  if (n > 0)
    for (int64_t j = 0; j < rank; j++) reach += mul(s, sh[j] - 1, xs[j]);
  for (int64_t k = 0; k < count; k++) {
    IndexSpec::Index ix;
    const int64_t* st = a.take(rank);
    ix.stride.assign(st, st + rank);
    ix.xstride = a.nonneg();
    ix.size = a.nonneg();
    const bool wrap = a.next() != 0;
    const int64_t inn = r.size_of(s, first + k);
    ix.data = r.in(s, first + k, inn, "index");
    if (n > 0) {
      for (int64_t j = 0; j < rank; j++)
        if (st[j] < 0) bad(s, "negative index stride");
      if (ix.size == 0) bad(s, "indexing into an empty dimension");
      if (span(s, sh, st, rank) > inn) bad(s, "index tensor too small for the spec");
      if (index_check(ix.data, inn, ix.size, wrap) >= 0) bad(s, "an index value is out of range (or not an integer)");
      reach += mul(s, ix.size - 1, ix.xstride);
      if (reach > kMaxElems) bad(s, "size overflows");
    }
    sp.idx.push_back(std::move(ix));
  }
  if (n > 0 && reach >= xn) bad(s, "the spec reaches past the tensor");
  return sp;
}

// The weight of conv step s packed for the direct kernels (which take g), when the
// weight is a plan constant: packed by the first run, then shared; else null.
const float* direct_weights(const Step& s, const ConvGeom& g, const float* w) {
  if (!s.pack) return nullptr;
  DirectPack& dp = *s.pack;
  const int64_t key[5] = {g.C, g.Cout, g.groups, g.kh, g.kw};
  std::call_once(dp.once, [&] {
    dp.w = direct::pack_forward_weights(g, w);
    std::memcpy(dp.key, key, sizeof key);
  });
  if (std::memcmp(dp.key, key, sizeof key) != 0 || dp.w.empty()) return nullptr;
  return dp.w.data();
}

// Whether s's epilogue is [ReLU,] 2×2 stride-2 max pool (floor mode) over the conv's
// output (the caller has checked the direct kernels take g): then they pool as they write.
bool direct_pool_epilogue(const Run& r, const Step& s, const ConvGeom& g) {
  const size_t n = s.ep.size();
  if (n < 1 || n > 2 || s.ep.back().kind != kEpMaxPool) return false;
  if (n == 2 && !(s.ep[0].kind == kEpAct && s.ep[0].flag == kActRelu)) return false;
  int64_t pg[16];
  for (int i = 0; i < 16; i++) pg[i] = s.ep.back().geom[i].at(r.N);
  // PoolGeom order: planes, D, H, W, OD, OH, OW, kd, kh, kw, sd, sh, sw, pd, ph, pw
  const int64_t want[16] = {g.N * g.Cout, 1, g.OH, g.OW, 1, g.OH / 2, g.OW / 2, 1, 2, 2, 1, 2, 2, 0, 0, 0};
  for (int i = 0; i < 16; i++)
    if (pg[i] != want[i] && !(i == 10 && pg[i] >= 1)) return false;
  return true;
}

void step(Run& r, const Step& s) {
  Ints a(s, r.N);
  switch (s.op) {
    case kConv: {
      ConvGeom g = conv_geom(s, a.take(22));
      const int64_t in = mul(s, g.N, mul(s, g.C, g.in_plane())), out = mul(s, g.N, mul(s, g.Cout, g.out_plane()));
      const float* x = r.in(s, 0, in, "input");
      const float* w = r.in(s, 1, mul(s, g.Cout, mul(s, g.C / g.groups, g.kvol())), "weight");
      const float* b = r.opt(s, 2, g.Cout, "bias");
      if (g.N != r.N) bad(s, "batch size disagrees with the run");
      const bool direct = direct::chosen(g);
      const float* packed = direct ? direct_weights(s, g, w) : nullptr;  // null: packed per run
      if (direct && direct_pool_epilogue(r, s, g)) {  // [ReLU +] 2×2 max pool fused into the direct kernel's output
        const int64_t pooled = mul(s, g.N, mul(s, g.Cout, (g.OH / 2) * (g.OW / 2)));
        direct::forward_relu_pool(g, x, w, b, r.out(s, 0, pooled), nullptr, s.ep.size() == 2, packed);
        break;
      }
      std::unique_ptr<Scratch> scratch;
      float* y = pre_output(r, s, out, scratch);
      if (direct && !pooled_epilogue(s)) {
        // the elementwise epilogue runs on each plane as the direct kernel writes it
        const int64_t S = g.out_plane();
        const std::vector<const float*> other = epilogue_operands(r, s, g.Cout, S, s.ep.size());
        const direct::PlaneHook hook = [&](int64_t n, int64_t o, float* plane) {
          epilogue_span(s, s.ep.size(), other, plane, n * g.Cout + o, o, S, 0, S);
        };
        direct::forward(g, x, w, b, y, false, packed, s.ep.empty() ? nullptr : &hook);
        break;
      }
      conv_forward(g, x, w, b, y, false);
      finish(r, s, y, g.Cout, g.out_plane());
      break;
    }
    case kLinear: {
      const int64_t N = a.nonneg(), in = a.nonneg(), o = a.nonneg();
      const float* x = r.in(s, 0, mul(s, N, in), "input");
      const float* w = r.in(s, 1, mul(s, o, in), "weight");
      const float* b = r.opt(s, 2, o, "bias");
      std::unique_ptr<Scratch> scratch;
      float* y = pre_output(r, s, mul(s, N, o), scratch);
      linear_forward(x, w, b, y, N, in, o, false);
      finish(r, s, y, 1, mul(s, N, o) / std::max<int64_t>(r.N, 1));
      break;
    }
    case kEltwise: {
      const int64_t n = a.nonneg();
      const float* x = r.in(s, 0, n, "input");
      if (r.N < 1 || n % r.N) bad(s, "size is not a multiple of the batch");
      std::unique_ptr<Scratch> scratch;
      float* y = pre_output(r, s, n, scratch);
      if (n) std::memcpy(y, x, sizeof(float) * n);
      finish(r, s, y, 1, n / r.N);
      break;
    }
    case kBinary: {
      const int op = static_cast<int>(a.next());
      const int64_t rank = a.nonneg();
      if (rank > 16) bad(s, "rank too large");
      const int64_t* sh = a.take(rank);
      const int64_t* as = a.take(rank);
      const int64_t* bs = a.take(rank);
      for (int64_t i = 0; i < rank; i++)
        if (sh[i] < 0 || as[i] < 0 || bs[i] < 0) bad(s, "negative shape or stride");
      const int64_t n = prod(s, sh, rank);
      if (n > 0) {
        if (span(s, sh, as, rank) > r.size_of(s, 0)) bad(s, "first operand is too small for its strides");
        if (span(s, sh, bs, rank) > r.size_of(s, 1)) bad(s, "second operand is too small for its strides");
      }
      const float* x = r.in(s, 0, -1, "a");
      const float* y = r.in(s, 1, -1, "b");
      float* o = r.out(s, 0, n);
      binary(op, x, y, o, std::vector<int64_t>(sh, sh + rank), std::vector<int64_t>(as, as + rank), std::vector<int64_t>(bs, bs + rank));
      break;
    }
    case kUnary: {
      const int op = static_cast<int>(a.next());
      const int64_t n = r.size_of(s, 0);
      const float* x = r.in(s, 0, n, "input");
      unary(op, x, r.out(s, 0, n), n, s.reals.empty() ? 0.f : s.reals[0]);
      break;
    }
    case kPermute: {
      const int64_t rank = a.nonneg();
      if (rank > 16) bad(s, "rank too large");
      const int64_t* sh = a.take(rank);
      const int64_t* pm = a.take(rank);
      std::vector<bool> seen(rank);
      for (int64_t i = 0; i < rank; i++) {
        if (pm[i] < 0 || pm[i] >= rank || seen[pm[i]] || sh[i] < 0) bad(s, "not a permutation");
        seen[pm[i]] = true;
      }
      const int64_t n = prod(s, sh, rank);
      const float* x = r.in(s, 0, n, "input");
      permute(x, r.out(s, 0, n), std::vector<int64_t>(sh, sh + rank), std::vector<int64_t>(pm, pm + rank));
      break;
    }
    case kReduceSum: {
      const int64_t o = a.nonneg(), sz = a.nonneg(), in = a.nonneg();
      const float* x = r.in(s, 0, mul(s, mul(s, o, sz), in), "input");
      reduce_sum(x, r.out(s, 0, mul(s, o, in)), o, sz, in, s.reals.empty() ? 1.f : s.reals[0]);
      break;
    }
    case kReduceMax: {
      const int64_t o = a.nonneg(), sz = a.nonneg(), in = a.nonneg();
      if (sz == 0) bad(s, "reduction over an empty dimension");
      const float* x = r.in(s, 0, mul(s, mul(s, o, sz), in), "input");
      float* v = r.out(s, 0, mul(s, o, in));
      float* arg = s.out.size() > 1 ? r.out(s, 1, mul(s, o, in)) : nullptr;
      std::unique_ptr<Scratch> tmp;
      if (!v) {
        tmp = std::make_unique<Scratch>(static_cast<size_t>(mul(s, o, in)));
        v = tmp->p;
      }
      reduce_max(x, v, arg, o, sz, in);
      break;
    }
    case kSoftmax: {
      const int64_t o = a.nonneg(), sz = a.nonneg(), in = a.nonneg();
      const bool log = a.next() != 0;
      const int64_t n = mul(s, mul(s, o, sz), in);
      softmax(r.in(s, 0, n, "input"), r.out(s, 0, n), o, sz, in, log);
      break;
    }
    case kMatmul: {
      const int64_t batch = a.nonneg(), M = a.nonneg(), Nn = a.nonneg(), K = a.nonneg();
      const bool ta = a.next() != 0, tb = a.next() != 0;
      const int64_t abs_ = a.nonneg(), bbs = a.nonneg();
      if (batch > 0) {
        if (mul(s, batch - 1, abs_) + mul(s, M, K) > r.size_of(s, 0)) bad(s, "first operand is too small");
        if (mul(s, batch - 1, bbs) + mul(s, K, Nn) > r.size_of(s, 1)) bad(s, "second operand is too small");
      }
      const float* x = r.in(s, 0, -1, "a");
      const float* y = r.in(s, 1, -1, "b");
      matmul(x, y, r.out(s, 0, mul(s, batch, mul(s, M, Nn))), batch, M, Nn, K, ta, tb, abs_, bbs, 0.f);
      break;
    }
    case kMaxPool:
    case kAvgPool: {
      PoolGeom g = pool_geom(s, a.take(16));
      if (s.op == kMaxPool && a.left() == 3) {  // dilation
        g.dd = a.next(), g.dh = a.next(), g.dw = a.next();
        if (g.dd < 1 || g.dh < 1 || g.dw < 1 || g.dd > kMaxElems || g.dh > kMaxElems || g.dw > kMaxElems) bad(s, "dilation must be >= 1");
      }
      const float* x = r.in(s, 0, mul(s, g.planes, mul(s, g.D, mul(s, g.H, g.W))), "input");
      float* y = r.out(s, 0, mul(s, g.planes, mul(s, g.OD, mul(s, g.OH, g.OW))));
      if (s.op == kMaxPool) {
        max_pool_forward(g, x, y, nullptr);
      } else {
        const bool inc = a.next() != 0;
        const int64_t divisor = a.left() ? a.nonneg() : 0;  // divisorOverride (0: none)
        avg_pool_forward(g, x, y, inc, divisor);
      }
      if (a.left()) bad(s, "too many integer arguments");
      break;
    }
    case kAdaptive3d: {
      int64_t v[7];
      for (auto& e : v) e = a.nonneg();
      const bool max = a.next() != 0;
      PoolGeom g{v[0], v[1], v[2], v[3], v[4], v[5], v[6], 1, 1, 1, 1, 1, 1, 0, 0, 0};
      if (g.D < 1 || g.H < 1 || g.W < 1 || g.OD < 1 || g.OH < 1 || g.OW < 1) bad(s, "sizes must be >= 1");
      if (mul(s, g.D, mul(s, g.H, g.W)) > std::numeric_limits<int32_t>::max()) bad(s, "plane too large");
      const float* x = r.in(s, 0, mul(s, g.planes, mul(s, g.D, mul(s, g.H, g.W))), "input");
      float* y = r.out(s, 0, mul(s, g.planes, mul(s, g.OD, mul(s, g.OH, g.OW))));
      if (max)
        adaptive_max_pool3d_forward(g, x, y, nullptr);
      else
        adaptive_avg_pool3d_forward(g, x, y);
      break;
    }
    case kAdaptiveAvg: {
      const int64_t P = a.nonneg(), H = a.nonneg(), W = a.nonneg(), OH = a.nonneg(), OW = a.nonneg();
      if (H < 1 || W < 1 || OH < 1 || OW < 1) bad(s, "sizes must be >= 1");
      const float* x = r.in(s, 0, mul(s, P, mul(s, H, W)), "input");
      adaptive_avg_pool_forward(P, H, W, OH, OW, x, r.out(s, 0, mul(s, P, mul(s, OH, OW))));
      break;
    }
    case kBatchNorm: {
      const int64_t N = a.nonneg(), C = a.nonneg(), S = a.nonneg();
      const int64_t n = mul(s, N, mul(s, C, S));
      const float* x = r.in(s, 0, n, "input");
      const float* gm = r.opt(s, 1, C, "weight");
      const float* bt = r.opt(s, 2, C, "bias");
      const float* mean = r.in(s, 3, C, "running mean");
      const float* var = r.in(s, 4, C, "running var");
      batch_norm_forward(x, gm, bt, r.out(s, 0, n), nullptr, nullptr, const_cast<float*>(mean), const_cast<float*>(var), N, C, S, false, 0.f,
                         s.reals.empty() ? 1e-5f : s.reals[0]);
      break;
    }
    case kFill: {
      const int64_t n = a.nonneg();
      fill(r.out(s, 0, n), n, s.reals.empty() ? 0.f : s.reals[0]);
      break;
    }
    case kCopy: {
      const int64_t n = r.size_of(s, 0);
      const float* x = r.in(s, 0, n, "input");
      float* y = r.out(s, 0, n);
      if (n) std::memcpy(y, x, sizeof(float) * n);
      break;
    }
    case kSumTo: {
      const int64_t rank = a.nonneg();
      if (rank > 16) bad(s, "rank too large");
      const int64_t* sh = a.take(rank);
      const int64_t* os = a.take(rank);
      const int64_t on = a.nonneg();
      for (int64_t i = 0; i < rank; i++)
        if (sh[i] < 0 || os[i] < 0) bad(s, "negative shape or stride");
      const float* x = r.in(s, 0, prod(s, sh, rank), "input");
      if (span(s, sh, os, rank) > on) bad(s, "output too small");
      sum_to(x, r.out(s, 0, on), on, std::vector<int64_t>(sh, sh + rank), std::vector<int64_t>(os, os + rank));
      break;
    }
    case kAxpy: {
      const int64_t n = r.size_of(s, 0);
      const float* d = r.in(s, 0, n, "destination");
      const float* src = r.in(s, 1, n, "source");
      float* y = r.out(s, 0, n);
      if (n) std::memcpy(y, d, sizeof(float) * n);
      axpy(y, src, n, s.reals.empty() ? 1.f : s.reals[0]);
      break;
    }
    case kCat: {  // parts viewed as [outer, len_k] side by side → [outer, Σ len_k]
      const int64_t outer = a.nonneg(), parts = a.nonneg();
      if (parts < 1 || static_cast<size_t>(parts) != s.in.size()) bad(s, "part count disagrees with the operands");
      const int64_t* len = a.take(parts);
      int64_t row = 0;
      std::vector<const float*> src(parts);
      for (int64_t k = 0; k < parts; k++) {
        if (len[k] < 0) bad(s, "negative part size");
        src[k] = r.in(s, k, mul(s, outer, len[k]), "part");
        row += len[k];
        if (row > kMaxElems) bad(s, "size overflows");
      }
      float* y = r.out(s, 0, mul(s, outer, row));
      parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(row, 1)), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; o++) {
          float* d = y + o * row;
          for (int64_t k = 0; k < parts; k++) {
            if (len[k]) std::memcpy(d, src[k] + o * len[k], sizeof(float) * len[k]);
            d += len[k];
          }
        }
      });
      break;
    }
    case kGather: {
      const int64_t xn = r.size_of(s, 0);
      const float* x = r.in(s, 0, xn, "input");
      IndexSpec sp = index_spec(r, s, a, 1, xn);
      int64_t n = 1;
      for (int64_t d : sp.shape) n = mul(s, n, d);
      index_gather(x, r.out(s, 0, n), sp);
      break;
    }
    case kScatter: {  // eager writes into dst in place; here dst's buffer is taken over when this is its last use
      const bool acc = a.next() != 0;
      const int64_t dn = r.size_of(s, 0), sn = r.size_of(s, 1);
      const float* src = r.in(s, 1, sn, "source");
      IndexSpec sp = index_spec(r, s, a, 2, dn);
      int64_t n = 1;
      for (int64_t d : sp.shape) n = mul(s, n, d);
      if (n != sn) bad(s, "source has " + std::to_string(sn) + " elements, the spec writes " + std::to_string(n));
      float* y = r.take_or_copy(s, 0, 0);
      index_scatter(y, src, sp, acc);
      break;
    }
    case kConvTranspose: {  // as the convTransposeForward binding: the adjoint conv's input gradient
      ConvGeom g = conv_geom(s, a.take(22));
      if (g.N != r.N) bad(s, "batch size disagrees with the run");
      const float* x = r.in(s, 0, mul(s, g.N, mul(s, g.Cout, g.out_plane())), "input");
      const float* w = r.in(s, 1, mul(s, g.Cout, mul(s, g.C / g.groups, g.kvol())), "weight");
      conv_backward(g, nullptr, w, x, r.out(s, 0, mul(s, g.N, mul(s, g.C, g.in_plane()))), nullptr, nullptr);
      break;
    }
    case kPad: {  // as the pad binding, forward
      const int64_t outer = a.nonneg();
      int64_t L[3], O[3], before[3];
      for (auto& v : L) v = a.nonneg();
      for (auto& v : O) v = a.nonneg();
      for (auto& v : before) {
        v = a.next();
        if (v < -kMaxElems || v > kMaxElems) bad(s, "pad out of range");
      }
      const int64_t mode = a.next();
      if (mode < 0 || mode > 3) bad(s, "unknown pad mode");
      const int64_t in = mul(s, outer, mul(s, L[0], mul(s, L[1], L[2]))), on = mul(s, outer, mul(s, O[0], mul(s, O[1], O[2])));
      if (static_cast<size_t>(on) > kMaxTensorNumel) bad(s, "the output is larger than one tensor may hold");
      const float* x = r.in(s, 0, in, "input");
      float* y = r.out(s, 0, on);
      if (on == 0) break;
      std::vector<int64_t> maps[3];
      if (const char* why = pad_maps(before, L, O, static_cast<int>(mode), maps)) bad(s, why);
      PadMap m{outer, L[0], L[1], L[2], O[0], O[1], O[2], maps[0].data(), maps[1].data(), maps[2].data()};
      pad_forward(m, x, y, s.reals.empty() ? 0.f : s.reals[0]);
      break;
    }
    case kWhere: {
      const int64_t rank = a.nonneg();
      if (rank > 16) bad(s, "rank too large");
      const int64_t* sh = a.take(rank);
      const int64_t* st[3] = {a.take(rank), a.take(rank), a.take(rank)};
      for (int64_t i = 0; i < rank; i++)
        if (sh[i] < 0 || st[0][i] < 0 || st[1][i] < 0 || st[2][i] < 0) bad(s, "negative shape or stride");
      const int64_t n = prod(s, sh, rank);
      const char* what[3] = {"condition", "input", "other"};
      const float* v[3];
      for (int k = 0; k < 3; k++) {
        if (n > 0 && span(s, sh, st[k], rank) > r.size_of(s, k)) bad(s, std::string(what[k]) + " is too small for its strides");
        v[k] = r.in(s, k, -1, what[k]);
      }
      auto vec = [&](const int64_t* p) { return std::vector<int64_t>(p, p + rank); };
      where_forward(v[0], v[1], v[2], r.out(s, 0, n), vec(sh), vec(st[0]), vec(st[1]), vec(st[2]));
      break;
    }
    default:
      bad(s, "unknown step");
  }
  if (s.ep.size() && s.op != kConv && s.op != kLinear && s.op != kEltwise) bad(s, "epilogue on a step that has none");
}

}  // namespace

size_t input_numel(const Plan& p, int64_t N) {
  if (N < 1) throw Error("plan: the batch size must be >= 1");
  if (p.fixed_n && N != p.fixed_n) throw Error("plan: compiled for batch " + std::to_string(p.fixed_n) + ", run with " + std::to_string(N));
  int64_t n;
  if (__builtin_mul_overflow(p.slots[0].numel.v, p.slots[0].numel.per_n ? N : 1, &n) || n > kMaxElems) throw Error("plan: input too large");
  return static_cast<size_t>(n);
}

size_t output_numel(const Plan& p, int64_t N) {
  const Arg& a = p.slots[p.output].numel;
  int64_t n;
  if (__builtin_mul_overflow(a.v, a.per_n ? N : 1, &n) || n > kMaxElems) throw Error("plan: output too large");
  return static_cast<size_t>(n);
}

float* run(const Plan& p, const float* x, int64_t N) {
  input_numel(p, N);
  Run r(p, N, x);
  for (const Step& s : p.steps) {
    step(r, s);
    for (int sl : s.free_after) r.release(sl);
  }
  const int o = p.output;
  if (!r.ptr[o]) throw Error("plan: the output was never computed");
  if (r.owned[o]) {
    r.owned[o] = false;  // handed to the caller
    return r.ptr[o];
  }
  // the output is the input or a constant: the caller gets a copy
  float* y = pool_alloc(static_cast<size_t>(r.numel[o]));
  if (r.numel[o]) std::memcpy(y, r.ptr[o], sizeof(float) * r.numel[o]);
  return y;
}

}  // namespace plan
}  // namespace blasnet
