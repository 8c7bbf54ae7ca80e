// The direct-convolution driver (see conv_direct.h for the method): which
// geometries go direct, the padded "wide" planes, weight packing, threads, and
// the epilogues (bias, ReLU, 2×2 max pool). The inner loops are the ISA kernels'.
//
// Threads: the forward and grad-input split samples over the pool; grad-weight
// splits (group, output-channel block, input channel, kernel row) tasks, each of
// which sums over the whole batch in a fixed order. Every output element is
// computed by the same instructions in the same order whatever the thread
// count, so results are bitwise independent of it.
#include "conv_direct.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu.h"

namespace blasnet {
namespace direct {

const Kernels& active() {
  static const Kernels& k = cpu_isa() == Isa::kAvx512 ? avx512_kernels()
                            : cpu_isa() == Isa::kAvx2 ? avx2_kernels()
                                                      : scalar_kernels();
  return k;
}

// Floats of padded planes one sample may need (forward input, weight-gradient input and
// output gradient, input-gradient source): past it the GEMM path's tiled workspace is the better tool.
constexpr int64_t kMaxSampleFloats = int64_t{1} << 22;  // 16 MiB

// Strides up to this run direct (as s·s phase planes, see Corr); larger ones are GEMM's.
constexpr int64_t kMaxStride = 4;

bool supported(const ConvGeom& g) {
  // 1-D and 2-D; the forward takes strides up to kMaxStride, the gradients stride 1
  if (!(g.D == 1 && g.kd == 1 && g.OD == 1 && g.sd == 1 && g.pd == 0 && g.sh >= 1 && g.sw >= 1 &&
        g.sh <= kMaxStride && g.sw <= kMaxStride && g.N >= 1 && g.OH >= 1 && g.OW >= 1 && g.C <= kMaxSampleFloats &&
        g.Cout <= kMaxSampleFloats))
    return false;
  // one channel's phase planes, at most sh·sw of [OH + (kh-1)·dh/sh, OW + (kw-1)·dw/sw]
  const int64_t fwd = g.sh * g.sw * (g.OH + (g.kh - 1) * g.dh / g.sh) * (g.OW + (g.kw - 1) * g.dw / g.sw);
  const int64_t bwd = (g.H + (g.kh - 1) * g.dh) * (g.W + (g.kw - 1) * g.dw);    // one padded gradient plane
  return fwd <= kMaxSampleFloats && bwd <= kMaxSampleFloats && g.C * fwd + g.Cout * (fwd + 64) <= kMaxSampleFloats &&
         g.Cout * bwd <= kMaxSampleFloats;
}

// The heuristic (BLASNET_CONV=auto): direct for few channels per group on
// small planes (LeNet's 1→6 and 6→16 5×5 layers), where im2col and GEMM
// packing move more memory than the GEMM computes; GEMM for the rest, whose
// K = C/groups·kh·kw is large enough for sgemm's micro-kernel.
bool chosen(const ConvGeom& g) {
  const ConvMode m = conv_mode();
  if (m == ConvMode::kGemm || !supported(g)) return false;
  if (m == ConvMode::kDirect) return true;
  const int64_t Cg = g.C / g.groups, Mg = g.Cout / g.groups;
  if (g.pointwise()) return false;
  if (Cg <= 16 && Mg <= 32 && g.OH * g.OW <= 64 * 64 && Cg * g.kvol() <= 512) return true;
  // AVX-512's 24 accumulators (blocks of 8 channels × 3 vectors) also beat Winograd and the
  // lowering on 3×3 layers of up to 32 → 64 channels on small planes (ResNet-8's 32→32 16²
  // and 32→64 stride-2 layers); AVX2's 12 do not (measured 0.65× the lowering on 32→64).
  return active().acc >= 24 && Cg <= 32 && Mg <= 64 && g.kh * g.kw <= 9 && g.OH * g.OW <= 32 * 32;
}

namespace {

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// A correlation with strides (sh, sw) of src planes [N, G*Cg, Hs, Ws] into dst
// planes [N, G*Mo, Ho, Wo] through padded planes [Rows, Wp] (src row r - pt,
// column c - pl; zero outside).
//
// Strides > 1 keep every tap a contiguous vector load by splitting each padded
// channel into phase planes: phase (py, px) holds the padded pixels at rows
// sh·r + py and columns sw·c + px, so tap (ky, kx) of output (oh, ow) is pixel
// (oh + ky·dh/sh, ow + kx·dw/sw) of phase (ky·dh % sh, kx·dw % sw). A channel is
// its used phases one after another (Rows × Wp each), and off[t] points into it;
// stride 1 is the one phase of the whole padded plane.
struct Corr {
  int64_t N, G, Cg, Mo, Hs, Ws, Ho, Wo, kh, kw, dh, dw, pt, pl, sh = 1, sw = 1;
  int64_t Rows, Wp, plane, Lw, taps;
  std::vector<int64_t> off;
  std::vector<int64_t> phases;  // the used phases py·sw + px, in storage order
  int64_t cm;  // output channels per register block
  Corr(int64_t N_, int64_t G_, int64_t Cg_, int64_t Mo_, int64_t Hs_, int64_t Ws_, int64_t Ho_, int64_t Wo_,
       int64_t kh_, int64_t kw_, int64_t dh_, int64_t dw_, int64_t pt_, int64_t pl_, int V, int acc, int64_t sh_ = 1,
       int64_t sw_ = 1)
      : N(N_), G(G_), Cg(Cg_), Mo(Mo_), Hs(Hs_), Ws(Ws_), Ho(Ho_), Wo(Wo_), kh(kh_), kw(kw_), dh(dh_), dw(dw_),
        pt(pt_), pl(pl_), sh(sh_), sw(sw_) {
    Rows = Ho + (kh - 1) * dh / sh;
    Wp = Wo + (kw - 1) * dw / sw;
    taps = kh * kw;
    std::vector<int64_t> slot(sh * sw, -1);
    for (int64_t ky = 0; ky < kh; ky++)
      for (int64_t kx = 0; kx < kw; kx++) {
        const int64_t ph = (ky * dh % sh) * sw + kx * dw % sw;
        if (slot[ph] < 0) slot[ph] = 0;
      }
    for (int64_t ph = 0; ph < sh * sw; ph++)
      if (slot[ph] == 0) {
        slot[ph] = static_cast<int64_t>(phases.size());
        phases.push_back(ph);
      }
    plane = static_cast<int64_t>(phases.size()) * Rows * Wp;
    Lw = round_up(Ho * Wp, V);
    off.resize(taps);
    for (int64_t ky = 0; ky < kh; ky++)
      for (int64_t kx = 0; kx < kw; kx++) {
        const int64_t ph = (ky * dh % sh) * sw + kx * dw % sw;
        off[ky * kw + kx] = slot[ph] * Rows * Wp + ky * dh / sh * Wp + kx * dw / sw;
      }
    const int64_t cmax = std::max(1, std::min(8, acc / 2));
    const int64_t nb = (Mo + cmax - 1) / cmax;
    cm = (Mo + nb - 1) / nb;
    // Blocks of acc/3 channels × 3 vectors fill the accumulators with fewer loads per FMA (3 vectors
    // + acc/3 broadcasts for acc FMAs, against 2 + acc/2) where they tile Mo exactly. AVX2 (acc 12), 16
    // channels: 4 blocks of 4 instead of 6 + 6 + 4, measured 1.25-1.35× faster on ResNet-8's 16→16 32²
    // layer (batch 1 and 64). AVX-512 (acc 24) already has blocks of 8 there; the scalar twin keeps its own.
    // Each output's sum runs in the same order whatever the block: only the speed changes.
    const int64_t c3 = acc / 3;
    if (acc % 3 == 0 && c3 >= 1 && c3 <= 8 && Mo % c3 == 0 && Mo > cmax) cm = c3;
  }
  // floats of one sample's padded planes, with the slack the last vectors read past the end
  int64_t padded() const { return G * Cg * plane + Wp + 64; }
};

// The phase planes of a strided correlation: dst [phases, Rows, Wp], phase (py, px)
// holding src row sh·r + py - pt, column sw·j + px - pl (zero outside).
void pad_plane_strided(const Corr& c, const float* src, float* dst) {
  for (const int64_t ph : c.phases) {
    const int64_t py = ph / c.sw, px = ph % c.sw;
    for (int64_t r = 0; r < c.Rows; r++, dst += c.Wp) {
      const int64_t sr = c.sh * r + py - c.pt;
      if (sr < 0 || sr >= c.Hs) {
        std::memset(dst, 0, c.Wp * sizeof(float));
        continue;
      }
      // columns j with 0 <= sw·j + px - pl < Ws: [lo, hi)
      const int64_t a = c.pl - px;  // sw·j >= a
      const int64_t lo = std::clamp<int64_t>(a <= 0 ? 0 : (a + c.sw - 1) / c.sw, 0, c.Wp);
      const int64_t hi = std::clamp<int64_t>(c.Ws + a <= 0 ? 0 : (c.Ws + a + c.sw - 1) / c.sw, lo, c.Wp);
      const float* s = src + sr * c.Ws;
      for (int64_t j = 0; j < lo; j++) dst[j] = 0.f;
      for (int64_t j = lo; j < hi; j++) dst[j] = s[c.sw * j - a];
      for (int64_t j = hi; j < c.Wp; j++) dst[j] = 0.f;
    }
  }
}

// dst [Rows, Wp] = src [Hs, Ws] shifted by (pt, pl), zero outside (the phase planes when strided).
// Returns false when src holds a non-finite value (stride 1 only; strided planes report true).
bool pad_plane(const Corr& c, const float* src, float* dst) {
  if (c.sh != 1 || c.sw != 1) {
    pad_plane_strided(c, src, dst);
    return true;
  }
  float bad = 0.f;
  for (int64_t r = 0; r < c.Rows; r++) {
    float* d = dst + r * c.Wp;
    const int64_t sr = r - c.pt;
    if (sr < 0 || sr >= c.Hs) {
      std::memset(d, 0, c.Wp * sizeof(float));
      continue;
    }
    const float* s = src + sr * c.Ws;
    const int64_t lo = std::clamp<int64_t>(c.pl, 0, c.Wp), hi = std::clamp<int64_t>(c.Ws + c.pl, lo, c.Wp);
    for (int64_t j = 0; j < lo; j++) d[j] = 0.f;
    for (int64_t j = lo; j < hi; j++) {
      d[j] = s[j - c.pl];
      bad += d[j] * 0.f;  // NaN for inf or NaN, else 0
    }
    for (int64_t j = hi; j < c.Wp; j++) d[j] = 0.f;
  }
  return bad == 0.f;
}

// Pads every channel of one sample (src: [G*Cg, Hs, Ws]) into xp (c.padded() floats).
bool pad_sample(const Corr& c, const float* src, float* xp) {
  bool finite = true;
  for (int64_t ch = 0; ch < c.G * c.Cg; ch++) finite &= pad_plane(c, src + ch * c.Hs * c.Ws, xp + ch * c.plane);
  std::memset(xp + c.G * c.Cg * c.plane, 0, (c.padded() - c.G * c.Cg * c.plane) * sizeof(float));
  return finite;
}

// The weight of the correlation, by output block: for group gi, block [co0, co0+cob):
// packed[(gi*Mo + co0)*Cg*taps + (ci*taps + t)*cob + c] = wt(gi, co0 + c, ci, t).
template <typename F>
std::vector<float> pack(const Corr& c, F&& wt) {
  std::vector<float> p(static_cast<size_t>(c.G * c.Mo * c.Cg * c.taps));
  for (int64_t gi = 0; gi < c.G; gi++)
    for (int64_t co0 = 0; co0 < c.Mo; co0 += c.cm) {
      const int64_t cob = std::min(c.cm, c.Mo - co0);
      float* b = p.data() + (gi * c.Mo + co0) * c.Cg * c.taps;
      for (int64_t ci = 0; ci < c.Cg; ci++)
        for (int64_t t = 0; t < c.taps; t++)
          for (int64_t k = 0; k < cob; k++) b[(ci * c.taps + t) * cob + k] = wt(gi, co0 + k, ci, t);
    }
  return p;
}

// Runs the correlation; for each sample n and output channel o (of G*Mo) calls
// epi(n, o, yw) with the wide plane yw [Ho rows of Wp] (valid columns < Wo).
template <typename Epi>
void correlate(const Corr& c, const float* src, const float* wp, const float* bias, Epi&& epi) {
  const Kernels& k = active();
  auto run = [&](int64_t n0, int64_t n1) {
    Scratch xp(static_cast<size_t>(c.padded()));
    Scratch yw(static_cast<size_t>(c.cm * c.Lw));
    for (int64_t n = n0; n < n1; n++) {
      pad_sample(c, src + n * c.G * c.Cg * c.Hs * c.Ws, xp.p);
      for (int64_t gi = 0; gi < c.G; gi++)
        for (int64_t co0 = 0; co0 < c.Mo; co0 += c.cm) {
          const int64_t cob = std::min(c.cm, c.Mo - co0);
          k.forward(xp.p + gi * c.Cg * c.plane, c.plane, c.Cg, c.off.data(), c.taps,
                    wp + (gi * c.Mo + co0) * c.Cg * c.taps, cob, bias ? bias + gi * c.Mo + co0 : nullptr,
                    yw.p, c.Lw);
          for (int64_t j = 0; j < cob; j++) epi(n, gi * c.Mo + co0 + j, yw.p + j * c.Lw);
        }
    }
  };
  if (c.N >= 2 && num_threads() > 1)
    parallel_for(c.N, 1, run);
  else
    run(0, c.N);
}

Corr forward_corr(const ConvGeom& g) {
  const Kernels& k = active();
  return Corr(g.N, g.groups, g.C / g.groups, g.Cout / g.groups, g.H, g.W, g.OH, g.OW, g.kh, g.kw, g.dh, g.dw, g.ph,
              g.pw, k.V, k.acc, g.sh, g.sw);
}

// gyw [Cout, Lw] = one sample's gy [Cout, OH, OW] in the forward's wide rows of Wp, zero in the
// thrown-away columns and the tail (the operand of the weight gradient and the wide input gradient).
void wide_rows(const ConvGeom& g, const Corr& c, const float* gy, float* gyw) {
  for (int64_t co = 0; co < g.Cout; co++) {
    float* d = gyw + co * c.Lw;
    const float* src = gy + co * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      std::memcpy(d + oh * c.Wp, src + oh * g.OW, g.OW * sizeof(float));
      std::memset(d + oh * c.Wp + g.OW, 0, (c.Wp - g.OW) * sizeof(float));
    }
    std::memset(d + g.OH * c.Wp, 0, (c.Lw - g.OH * c.Wp) * sizeof(float));
  }
}

// gx by a GEMM into the forward's wide layout (stride 1): per sample and group,
// dcol [Cg·taps, Lw] = w_g^T · gyw_g, gyw being gy in rows of Wp (zero in the
// thrown-away columns and the tail); then tap t's row of dcol is added at off[t]
// into padded planes [Rows, Wp] — one contiguous run of Lw floats per (channel,
// tap), where col2im adds rows of OW — and the planes are cropped into gx. The
// thrown-away columns carry w·0 = 0 (the caller checks w is finite), landing on
// other columns or the slack. Samples split over the pool; each sample's sums run
// in one fixed order.
void grad_input_gemm(const ConvGeom& g, const Corr& c, const float* w, const float* gy, float* gx) {
  const int64_t G = c.G, Cg = c.Cg, Mg = c.Mo, K = Cg * c.taps, P = g.OH * g.OW, HW = g.H * g.W;
  const int64_t gplane = c.plane + c.Wp + 64;  // a padded plane and the slack its runs reach
  auto run = [&](int64_t n0, int64_t n1) {
    Scratch gyw(static_cast<size_t>(g.Cout * c.Lw)), dcol(static_cast<size_t>(K * c.Lw)),
        gp(static_cast<size_t>(Cg * gplane));
    for (int64_t n = n0; n < n1; n++) {
      wide_rows(g, c, gy + n * g.Cout * P, gyw.p);
      for (int64_t gi = 0; gi < G; gi++) {
        // dcol = w_g^T [K, Mg] · gyw_g [Mg, Lw]   (w_g: [Mg, K])
        gemm(true, false, K, c.Lw, Mg, 1.f, w + gi * Mg * K, K, gyw.p + gi * Mg * c.Lw, c.Lw, 0.f, dcol.p, c.Lw, false);
        std::memset(gp.p, 0, Cg * gplane * sizeof(float));
        for (int64_t ci = 0; ci < Cg; ci++)
          for (int64_t t = 0; t < c.taps; t++) {
            float* __restrict d = gp.p + ci * gplane + c.off[t];
            const float* __restrict r = dcol.p + (ci * c.taps + t) * c.Lw;
            for (int64_t q = 0; q < c.Lw; q++) d[q] += r[q];
          }
        for (int64_t ci = 0; ci < Cg; ci++) {
          float* d = gx + (n * g.C + gi * Cg + ci) * HW;
          const float* src = gp.p + ci * gplane + g.ph * c.Wp + g.pw;
          for (int64_t ih = 0; ih < g.H; ih++) std::memcpy(d + ih * g.W, src + ih * c.Wp, g.W * sizeof(float));
        }
      }
    }
  };
  if (g.N >= 2 && num_threads() > 1)
    parallel_for(g.N, 1, run);
  else
    run(0, g.N);
}

std::vector<float> pack_forward(const Corr& c, const float* w) {
  // w: [G*Mo, Cg, kh, kw]
  return pack(c, [&](int64_t gi, int64_t co, int64_t ci, int64_t t) { return w[((gi * c.Mo + co) * c.Cg + ci) * c.taps + t]; });
}

// The packed forward weight: `packed` when the caller has it (a plan), else packed into `own`.
const float* packed_weights(const Corr& c, const float* w, const float* packed, std::vector<float>& own) {
  if (packed) return packed;
  own = pack_forward(c, w);
  return own.data();
}

}  // namespace

std::vector<float> pack_forward_weights(const ConvGeom& g, const float* w) {
  if (!chosen(g)) return {};
  return pack_forward(forward_corr(g), w);
}

bool forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu,
             const float* packed, const PlaneHook* hook) {
  if (!chosen(g)) return false;
  const Corr c = forward_corr(g);
  std::vector<float> own;
  const int64_t P = g.OH * g.OW;
  correlate(c, x, packed_weights(c, w, packed, own), bias, [&](int64_t n, int64_t o, const float* yw) {
    float* d = y + (n * g.Cout + o) * P;
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const float* s = yw + oh * c.Wp;
      float* dr = d + oh * g.OW;
      if (relu)  // as conv.cc's GEMM path
        for (int64_t ow = 0; ow < g.OW; ow++) dr[ow] = s[ow] < 0.f ? 0.f : s[ow];  // PyTorch's relu: NaN and -0 pass
      else
        std::memcpy(dr, s, g.OW * sizeof(float));
    }
    if (hook) (*hook)(n, o, d);
  });
  return true;
}

void forward_relu_pool(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, int32_t* idx,
                       bool relu, const float* packed) {
  const int64_t PH = g.OH / 2, PW = g.OW / 2, P = g.OH * g.OW;
  // ReLU as PyTorch's: max(v, 0) with NaN kept
  auto act = [relu](float v) { return relu && v < 0.f ? 0.f : v; };
  // The 2×2 windows of a plane with rows `ld` apart. Fast path: the max of the raw
  // values and then ReLU (the same value as the max of the ReLU'd ones; where they
  // tie at 0 the index may differ, but the gradient there is cut by ReLU either
  // way), as plain selects that vectorise. A plane holding NaN takes the general
  // path: the last NaN wins, ties keep the first (max_pool_forward's rule).
  // Without indices (inference): the row-pair maxima h[q] = max(s[q], s[q+1]) in one
  // contiguous vector pass over the first 2·PH rows (the ISA's pair_max; the columns
  // between windows are computed and ignored), then each window's max(h[top], h[bottom]) —
  // the comparisons of the loop below, in its order. False (nothing reliable written)
  // when the rows hold a NaN.
  auto pool_rows = [&](const float* s, int64_t ld, float* d) {
    const int64_t n = (2 * PH - 1) * ld + 2 * PW - 1;  // h is read on [0, n)
    Scratch hbuf(static_cast<size_t>(std::max<int64_t>(n, 1)));
    float* h = hbuf.p;
    if (active().pair_max(s, h, n)) return false;
    for (int64_t ph = 0; ph < PH; ph++) {
      const float* h0 = h + 2 * ph * ld;
      const float* h1 = h0 + ld;
      float* dr = d + ph * PW;
      for (int64_t pw = 0; pw < PW; pw++) {
        const float m1 = h0[2 * pw], m2 = h1[2 * pw], m = m2 > m1 ? m2 : m1;
        dr[pw] = relu && m < 0.f ? 0.f : m;
      }
    }
    return true;
  };
  auto pool = [&](const float* s, int64_t ld, float* d, int32_t* ix) {
    if (!ix && pool_rows(s, ld, d)) return;
    int nan = 0;
    const int32_t OW32 = static_cast<int32_t>(g.OW);
    for (int64_t ph = 0; ph < PH; ph++) {
      const float* __restrict r0 = s + 2 * ph * ld;
      const float* __restrict r1 = r0 + ld;
      float* __restrict dr = d + ph * PW;
      const int32_t base = static_cast<int32_t>(2 * ph * g.OW);
      for (int64_t pw = 0; pw < PW; pw++) {
        const float a = r0[2 * pw], b = r0[2 * pw + 1], c = r1[2 * pw], e = r1[2 * pw + 1];
        nan |= (a != a) | (b != b) | (c != c) | (e != e);
        const float m1 = b > a ? b : a, m2 = e > c ? e : c, m = m2 > m1 ? m2 : m1;
        dr[pw] = relu && m < 0.f ? 0.f : m;
        if (ix) {
          const int32_t k1 = b > a, k2 = OW32 + (e > c), t = m2 > m1;
          ix[ph * PW + pw] = base + 2 * static_cast<int32_t>(pw) + k1 + t * (k2 - k1);
        }
      }
    }
    if (!nan) return;
    for (int64_t ph = 0; ph < PH; ph++)
      for (int64_t pw = 0; pw < PW; pw++) {
        const float* r0 = s + 2 * ph * ld + 2 * pw;
        const float v[4] = {act(r0[0]), act(r0[1]), act(r0[ld]), act(r0[ld + 1])};
        const int32_t at[4] = {0, 1, OW32, OW32 + 1};
        float best = v[0];
        int32_t bi = 0;
        for (int i = 1; i < 4; i++) {
          const bool t = (v[i] > best) | (v[i] != v[i]);  // the last NaN wins, as max_pool_forward
          best = t ? v[i] : best;
          bi = t ? at[i] : bi;
        }
        d[ph * PW + pw] = best;
        if (ix) ix[ph * PW + pw] = static_cast<int32_t>(2 * ph * g.OW + 2 * pw) + bi;
      }
  };
  if (chosen(g)) {
    const Corr c = forward_corr(g);
    std::vector<float> own;
    correlate(c, x, packed_weights(c, w, packed, own), bias, [&](int64_t n, int64_t o, const float* yw) {
      const int64_t at = (n * g.Cout + o) * PH * PW;
      pool(yw, c.Wp, y + at, idx ? idx + at : nullptr);
    });
    return;
  }
  std::vector<float> full(static_cast<size_t>(g.N * g.Cout * P));
  conv_forward(g, x, w, bias, full.data(), false);
  for (int64_t pl = 0; pl < g.N * g.Cout; pl++)
    pool(full.data() + pl * P, g.OW, y + pl * PH * PW, idx ? idx + pl * PH * PW : nullptr);
}

bool backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float*& gx_, float*& gw_,
              float*& gb_) {
  if (g.sh != 1 || g.sw != 1 || !chosen(g)) return false;  // the gradients run direct at stride 1 only
  // auto: the input gradient goes direct only for few output channels (a short reduction
  // Cout/groups·kh·kw); LeNet's 6→16 layer measured 1.5× slower direct than GEMM + col2im.
  const bool gx_direct = conv_mode() == ConvMode::kDirect || (g.Cout / g.groups) * g.kvol() <= 256;
  float* gx = gx_direct ? gx_ : nullptr;
  // else a GEMM into the wide layout, unless w holds inf or NaN (its products with the
  // zero columns would be NaN where the true sum has no term): then conv.cc's lowering
  // (and unless the conv reads fewer input rows or columns than it has — a negative after-padding, as
  // the adjoint of a transposed conv with outputPadding: the wide planes would not cover the input)
  const Corr fc = forward_corr(g);
  float* gx_gemm = nullptr;
  if (gx_ && !gx_direct && fc.Rows >= g.H + g.ph && fc.Wp >= g.W + g.pw) {
    float bad = 0.f;
    for (int64_t i = 0; i < g.Cout * (g.C / g.groups) * g.kvol(); i++) bad += w[i] * 0.f;
    if (bad == 0.f) gx_gemm = gx_;
  }
  float* gw = gw_;
  float* const gb = gb_;
  const Kernels& k = active();
  const int64_t G = g.groups, Cg = g.C / G, Mg = g.Cout / G, P = g.OH * g.OW;
  if (gw) {
    // A non-finite input would meet the zeros of the thrown-away columns (0·inf = NaN
    // where the true sum has no such term): such batches take the GEMM path.
    for (int64_t pl = 0; pl < g.N * g.C; pl++) {
      const float* s = x + pl * g.H * g.W;
      float bad = 0.f;
      for (int64_t i = 0; i < g.H * g.W; i++) bad += s[i] * 0.f;
      if (bad != 0.f) {
        gw = nullptr;
        break;
      }
    }
  }
  if (gb) conv_bias_grad(g, gy, gb);
  if (gx) {
    // gx = the stride-1 correlation of gy padded by (k-1)·d - p with the flipped weight, transposed per group
    const Corr c(g.N, G, Mg, Cg, g.OH, g.OW, g.H, g.W, g.kh, g.kw, g.dh, g.dw, (g.kh - 1) * g.dh - g.ph,
                 (g.kw - 1) * g.dw - g.pw, k.V, k.acc);
    const std::vector<float> wp = pack(c, [&](int64_t gi, int64_t ci, int64_t co, int64_t t) {
      const int64_t ky = g.kh - 1 - t / g.kw, kx = g.kw - 1 - t % g.kw;
      return w[((gi * Mg + co) * Cg + ci) * c.taps + ky * g.kw + kx];
    });
    const int64_t HW = g.H * g.W;
    correlate(c, gy, wp.data(), nullptr, [&](int64_t n, int64_t o, const float* yw) {
      float* d = gx + (n * g.C + o) * HW;
      for (int64_t r = 0; r < g.H; r++) std::memcpy(d + r * g.W, yw + r * c.Wp, g.W * sizeof(float));
    });
  }
  if (gx_gemm) grad_input_gemm(g, fc, w, gy, gx_gemm);
  if (gw) {
    // gw[co, ci, ky, kx] = sum over n, q of gyw[n, co, q] · xpad[n, ci, q + ky·dh·Wp + kx·dw]
    const Corr& c = fc;
    const int64_t xs = c.padded(), gs = g.Cout * c.Lw;
    const int64_t per = xs + gs;
    const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 17) / per, 1, g.N);  // ~512 KB of planes
    const int64_t wc = std::max(1, std::min(4, k.acc / static_cast<int>(std::min<int64_t>(g.kw, 8))));
    const int64_t nb = (Mg + wc - 1) / wc, cob0 = (Mg + nb - 1) / nb;
    const int64_t tasks = G * nb * Cg * g.kh;
    const int64_t wsize = g.Cout * Cg * g.kvol();
    // Chunk b's partial gradient (its samples' sums): the chunks run in parallel, each in one
    // thread start to end (few large jobs: per-chunk jobs of ~50 µs did not scale on 2 cores),
    // and the partials are added into gw in chunk order — the same sums in the same order
    // whatever the thread count. At most kGroup chunks (and their partials) at a time.
    constexpr int64_t kGroup = 64;
    const int64_t nchunks = (g.N + chunk - 1) / chunk;
    std::vector<float> part(static_cast<size_t>(std::min(nchunks, kGroup) * wsize));
    std::memset(gw, 0, wsize * sizeof(float));
    auto one_chunk = [&](int64_t b, float* buf, float* acc, float* pw) {
      const int64_t n0 = b * chunk, ns = std::min(chunk, g.N - n0);
      for (int64_t s = 0; s < ns; s++) {
        pad_sample(c, x + (n0 + s) * g.C * g.H * g.W, buf + s * xs);
        wide_rows(g, c, gy + (n0 + s) * g.Cout * P, buf + chunk * xs + s * gs);
      }
      for (int64_t t = 0; t < tasks; t++) {
        int64_t r = t;
        const int64_t ky = r % g.kh;
        r /= g.kh;
        const int64_t ci = r % Cg;
        r /= Cg;
        const int64_t bl = r % nb, gi = r / nb;
        const int64_t co0 = bl * cob0, cob = std::min(cob0, Mg - co0);
        if (cob <= 0) continue;
        std::fill(acc, acc + 4 * g.kw, 0.f);
        k.wgrad(buf + chunk * xs + (gi * Mg + co0) * c.Lw, c.Lw, gs, cob, buf + (gi * Cg + ci) * c.plane + ky * g.dh * c.Wp,
                xs, g.dw, g.kw, c.Lw, ns, acc);
        for (int64_t j = 0; j < cob; j++)
          for (int64_t kx = 0; kx < g.kw; kx++)
            pw[(((gi * Mg + co0 + j) * Cg + ci) * g.kh + ky) * g.kw + kx] = acc[j * g.kw + kx];
      }
    };
    for (int64_t b0 = 0; b0 < nchunks; b0 += kGroup) {
      const int64_t nb_ = std::min(kGroup, nchunks - b0);
      auto run = [&](int64_t i0, int64_t i1) {
        Scratch buf(static_cast<size_t>(chunk * per));
        std::vector<float> acc(static_cast<size_t>(4 * g.kw));
        for (int64_t i = i0; i < i1; i++) one_chunk(b0 + i, buf.p, acc.data(), part.data() + i * wsize);
      };
      if (num_threads() > 1 && nb_ > 1)
        parallel_for(nb_, 1, run);
      else
        run(0, nb_);
      for (int64_t i = 0; i < nb_; i++)
        for (int64_t e = 0; e < wsize; e++) gw[e] += part[i * wsize + e];
    }
  }
  // what was done here is done; the GEMM path does the rest
  if (gx || gx_gemm) gx_ = nullptr;
  if (gw) gw_ = nullptr;
  gb_ = nullptr;
  return !gx_ && !gw_;
}

}  // namespace direct
}  // namespace blasnet
