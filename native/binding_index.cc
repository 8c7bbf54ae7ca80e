// Bindings for indexing, joining and where (index.cc). TypeScript validates
// the op's arguments and the index values first (naming the op); here every
// position an IndexSpec can reach is re-checked against the buffers, so no
// spec can read or write outside them.
#include <napi.h>

#include <string>
#include <vector>

#include "binding_args.h"
#include "kernels.h"

namespace blasnet {
namespace {
using namespace bind;

// (shape, xstride, offset, indices) at info[at..at+3]; indices: [[handle, strides, xstride, size, wrap], …]
IndexSpec read_spec(const CallbackInfo& info, size_t at, Storage* x) {
  Napi::Env env = info.Env();
  IndexSpec s;
  s.shape = ints(info, at, "index shape");
  s.xstride = ints(info, at + 1, "index strides");
  s.offset = nonneg(info, at + 2, "index offset");
  if (s.xstride.size() != s.shape.size()) fail(env, "index: strides and shape differ in rank");
  const int64_t n = prod(env, s.shape);
  if (!info[at + 3].IsArray()) throw Napi::TypeError::New(env, "blasnet native: index tensors must be an array");
  auto list = info[at + 3].As<Napi::Array>();
  if (list.Length() > 64) fail(env, "index: too many index tensors");
  // the furthest element of x a position can reach
  int64_t reach = s.offset;
  for (size_t j = 0; j < s.shape.size(); j++)
    if (s.shape[j] > 0) reach += mul(env, s.shape[j] - 1, s.xstride[j]);
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value e = list.Get(k);
    if (!e.IsArray() || e.As<Napi::Array>().Length() != 5) fail(env, "index: each index is [handle, strides, xstride, size, wrap]");
    auto a = e.As<Napi::Array>();
    Storage* st = unwrap(a.Get(0u), "index tensor");
    IndexSpec::Index ix;
    ix.data = st->data;
    auto sv = a.Get(1u);
    if (!sv.IsArray()) fail(env, "index: strides must be an array");
    auto sa = sv.As<Napi::Array>();
    if (sa.Length() != s.shape.size()) fail(env, "index: index strides and shape differ in rank");
    int64_t span = 1;
    for (uint32_t j = 0; j < sa.Length(); j++) {
      Napi::Value d = sa.Get(j);
      double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
      if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v))) fail(env, "index: index strides must be non-negative integers");
      ix.stride.push_back(static_cast<int64_t>(v));
      if (s.shape[j] > 0) span += mul(env, s.shape[j] - 1, ix.stride.back());
    }
    Napi::Value xs = a.Get(2u), sz = a.Get(3u);
    if (!xs.IsNumber() || !sz.IsNumber()) fail(env, "index: xstride and size must be numbers");
    ix.xstride = static_cast<int64_t>(xs.As<Napi::Number>().DoubleValue());
    ix.size = static_cast<int64_t>(sz.As<Napi::Number>().DoubleValue());
    const bool wrap = a.Get(4u).ToBoolean().Value();
    if (ix.xstride < 0 || ix.size < 0) fail(env, "index: negative xstride or size");
    if (n > 0) {
      if (ix.size == 0) fail(env, "index: indexing into an empty dimension");
      if (static_cast<uint64_t>(span) > st->numel) fail(env, "index: index tensor too small for the spec");
      if (index_check(st->data, static_cast<int64_t>(st->numel), ix.size, wrap) >= 0) fail(env, "index: an index value is out of range");
      reach += mul(env, ix.size - 1, ix.xstride);
    }
    s.idx.push_back(std::move(ix));
  }
  if (n > 0 && static_cast<uint64_t>(reach) >= x->numel) fail(env, "index: the spec reaches past the tensor");
  return s;
}

FN(IndexCheck) {  // (idx, size, wrap) → first bad position or -1
  Storage* t = unwrap(info[0], "index");
  int64_t size = nonneg(info, 1, "size");
  return Napi::Number::New(env, static_cast<double>(index_check(t->data, static_cast<int64_t>(t->numel), size, boolean(info, 2))));
} END

FN(IndexGather) {  // (x, shape, xstride, offset, indices) → out
  Storage* x = unwrap(info[0], "x");
  IndexSpec s = read_spec(info, 1, x);
  Value h = out(env, prod(env, s.shape));
  index_gather(x->data, data_of(h), s);
  return h;
} END

FN(IndexScatter) {  // (dst, src, shape, xstride, offset, indices, accumulate): in place into dst
  Storage* dst = unwrap(info[0], "destination");
  Storage* src = unwrap(info[1], "source");
  IndexSpec s = read_spec(info, 2, dst);
  exact(env, src, prod(env, s.shape), "source");
  index_scatter(dst->data, src->data, s, boolean(info, 6));
  return env.Undefined();
} END

FN(Where) {  // (c, a, b, shape, cs, as, bs) → out
  Storage* c = unwrap(info[0], "condition");
  Storage* a = unwrap(info[1], "input");
  Storage* b = unwrap(info[2], "other");
  auto shape = ints(info, 3, "shape"), cs = ints(info, 4, "c strides"), as = ints(info, 5, "a strides"), bs = ints(info, 6, "b strides");
  if (cs.size() != shape.size() || as.size() != shape.size() || bs.size() != shape.size()) fail(env, "where: strides and shape differ in rank");
  int64_t n = prod(env, shape);
  if (n > 0) {
    need(env, c, span(env, shape, cs), "condition");
    need(env, a, span(env, shape, as), "input");
    need(env, b, span(env, shape, bs), "other");
  }
  Value h = out(env, n);
  where_forward(c->data, a->data, b->data, data_of(h), shape, cs, as, bs);
  return h;
} END

}  // namespace

void init_index(Napi::Env env, Napi::Object exports) {
#define EXPORT(js, fn) exports.Set(js, Napi::Function::New(env, fn, js))
  EXPORT("indexCheck", IndexCheck);
  EXPORT("indexGather", IndexGather);
  EXPORT("indexScatter", IndexScatter);
  EXPORT("where", Where);
#undef EXPORT
}

}  // namespace blasnet
