// Bindings for padding (pad.cc).
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "binding_args.h"
#include "kernels.h"

namespace blasnet {
namespace {
using namespace bind;

// (x|gy, sizes [outer, D, H, W, OD, OH, OW], before_d, before_h, before_w, mode, value, backward)
FN(Pad) {
  Storage* x = unwrap(info[0], "input");
  auto v = ints(info, 1, "pad geometry");
  if (v.size() != 7) fail(env, "pad geometry must have 7 entries");
  const int64_t bd = i64(info, 2, "pad before"), bh = i64(info, 3, "pad before"), bw = i64(info, 4, "pad before");
  const int64_t mode = i64(info, 5, "pad mode");
  const float value = f32(info, 6, "pad value");
  const bool backward = boolean(info, 7);
  if (mode < 0 || mode > 3) fail(env, "pad: mode must be 0..3");
  const int64_t outer = v[0], L[3] = {v[1], v[2], v[3]}, O[3] = {v[4], v[5], v[6]}, before[3] = {bd, bh, bw};
  const int64_t in = prod(env, {outer, L[0], L[1], L[2]}), on = prod(env, {outer, O[0], O[1], O[2]});
  exact(env, x, backward ? on : in, backward ? "grad" : "input");
  if (static_cast<size_t>(on) > kMaxTensorNumel) fail(env, "pad: the output is larger than one tensor may hold");
  if (on == 0) {  // nothing to map (and a dim's map could be as long as a huge, unused size)
    Value r = out(env, backward ? in : 0);
    if (backward && in) std::memset(data_of(r), 0, static_cast<size_t>(in) * sizeof(float));
    return r;
  }
  std::vector<int64_t> maps[3];
  if (const char* why = pad_maps(before, L, O, static_cast<int>(mode), maps)) fail(env, why);
  PadMap m{outer, L[0], L[1], L[2], O[0], O[1], O[2], maps[0].data(), maps[1].data(), maps[2].data()};
  Value r = out(env, backward ? in : on);
  if (backward)
    pad_backward(m, x->data, data_of(r));
  else
    pad_forward(m, x->data, data_of(r), value);
  return r;
} END

}  // namespace

void init_pad(Napi::Env env, Napi::Object exports) {
  exports.Set("pad", Napi::Function::New(env, Pad, "pad"));
}

}  // namespace blasnet
