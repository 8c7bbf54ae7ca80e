// The direct-convolution kernels, written once over a vector of V floats (GCC
// vector extensions; V = 1 is plain float: the scalar twin). Included by
// conv_direct_<isa>.cc inside an anonymous namespace, after defining
// BLASNET_DIRECT_V (floats per vector) and BLASNET_DIRECT_ACC (accumulator
// registers a block may hold). Nothing here may instantiate a template with
// external linkage (no std:: templates): each file is compiled for its own ISA,
// and a shared out-of-line copy could leak AVX-512 code into the AVX2 path.
// (The file includes <cstdint> and <cstring> before its namespace.)
// Sums run in an order fixed by the shape alone, never by the thread that runs them.
constexpr int V = BLASNET_DIRECT_V;
constexpr int kAcc = BLASNET_DIRECT_ACC;

#if BLASNET_DIRECT_V == 1
typedef float vf;
inline vf load(const float* p) { return *p; }
inline void store(float* p, vf v) { *p = v; }
inline vf splat(float s) { return s; }
inline float hsum(vf v) { return v; }
#else
typedef float vf __attribute__((vector_size(BLASNET_DIRECT_V * 4)));
inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
// A broadcast. (s - zero, not a loop over lanes: GCC built that lane by lane in a
// stack slot and then read it back whole, a store-forwarding stall in every inner
// loop — 6× slower on AVX-512. s - (+0) is s for every float, -0 and NaN included.)
inline vf splat(float s) { return s - vf{}; }
inline float hsum(vf v) {  // lanes in order: the same sum on every run
  float s = v[0];
  for (int i = 1; i < V; i++) s += v[i];
  return s;
}
#endif

constexpr int imin(int a, int b) { return a < b ? a : b; }
constexpr int imax(int a, int b) { return a > b ? a : b; }
// Vectors per block for COB output channels: as many as the accumulators allow, at most 4.
constexpr int qv_for(int cob) { return imax(1, imin(4, kAcc / cob)); }

// yw[c, q0 .. q0+QV*V) for c < COB: bias + sum over (ci, tap) of w * xp[ci, q + off[tap]].
// xp: [Cg, plane] padded planes; wp: [Cg, taps, COB]; yw: [COB, Lw].
template <int COB, int QV>
inline void fwd_block(const float* xp, int64_t plane, int64_t Cg, const int64_t* off, int64_t taps, const float* wp,
                      const float* bias, float* yw, int64_t Lw, int64_t q0) {
  vf acc[COB][QV];
  for (int c = 0; c < COB; c++) {
    const vf b = splat(bias ? bias[c] : 0.f);
    for (int j = 0; j < QV; j++) acc[c][j] = b;
  }
  for (int64_t ci = 0; ci < Cg; ci++) {
    const float* xc = xp + ci * plane + q0;
    const float* wc = wp + ci * taps * COB;
    for (int64_t t = 0; t < taps; t++) {
      const float* s = xc + off[t];
      vf in[QV];
      for (int j = 0; j < QV; j++) in[j] = load(s + j * V);
      const float* wt = wc + t * COB;
      for (int c = 0; c < COB; c++) {
        const vf b = splat(wt[c]);
        for (int j = 0; j < QV; j++) acc[c][j] += b * in[j];
      }
    }
  }
  for (int c = 0; c < COB; c++)
    for (int j = 0; j < QV; j++) store(yw + c * Lw + q0 + j * V, acc[c][j]);
}

template <int COB>
void fwd_cob(const float* xp, int64_t plane, int64_t Cg, const int64_t* off, int64_t taps, const float* wp,
             const float* bias, float* yw, int64_t Lw) {
  constexpr int QV = qv_for(COB);
  int64_t q0 = 0;
  for (; q0 + QV * V <= Lw; q0 += QV * V) fwd_block<COB, QV>(xp, plane, Cg, off, taps, wp, bias, yw, Lw, q0);
  for (; q0 < Lw; q0 += V) fwd_block<COB, 1>(xp, plane, Cg, off, taps, wp, bias, yw, Lw, q0);
}

void forward_kernel(const float* xp, int64_t plane, int64_t Cg, const int64_t* off, int64_t taps, const float* wp,
                    int64_t cob, const float* bias, float* yw, int64_t Lw) {
  switch (cob) {
    case 1: return fwd_cob<1>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 2: return fwd_cob<2>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 3: return fwd_cob<3>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 4: return fwd_cob<4>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 5: return fwd_cob<5>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 6: return fwd_cob<6>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    case 7: return fwd_cob<7>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
    default: return fwd_cob<8>(xp, plane, Cg, off, taps, wp, bias, yw, Lw);
  }
}

// acc[c*nk + k0 + k] += sum over samples s < ns and q < Lw of gyw[s, c, q] * xr[s, q + (k0 + k)*dw], k < NK.
template <int COB, int NK>
void wg_block(const float* gyw, int64_t gstride, int64_t gn, const float* xr, int64_t xn, int64_t dw, int64_t nk,
              int64_t k0, int64_t Lw, int64_t ns, float* acc) {
  vf a[COB][NK];
  for (int c = 0; c < COB; c++)
    for (int k = 0; k < NK; k++) a[c][k] = splat(0.f);
  for (int64_t s = 0; s < ns; s++) {
    const float* g = gyw + s * gn;
    const float* x = xr + s * xn + k0 * dw;
    for (int64_t q = 0; q < Lw; q += V) {
      vf gv[COB];
      for (int c = 0; c < COB; c++) gv[c] = load(g + c * gstride + q);
      for (int k = 0; k < NK; k++) {
        const vf xv = load(x + q + k * dw);
        for (int c = 0; c < COB; c++) a[c][k] += gv[c] * xv;
      }
    }
  }
  for (int c = 0; c < COB; c++)
    for (int k = 0; k < NK; k++) acc[c * nk + k0 + k] += hsum(a[c][k]);
}

template <int COB>
void wg_cob(const float* gyw, int64_t gstride, int64_t gn, const float* xr, int64_t xn, int64_t dw, int64_t nk,
            int64_t Lw, int64_t ns, float* acc) {
  constexpr int NKMAX = imax(1, imin(8, kAcc / COB));
  for (int64_t k0 = 0; k0 < nk;) {
    const int64_t r = nk - k0;
    const int kc = static_cast<int>(r < NKMAX ? r : NKMAX);
    switch (kc) {
#define BLASNET_WG(n) \
  case n: wg_block<COB, (n <= NKMAX ? n : 1)>(gyw, gstride, gn, xr, xn, dw, nk, k0, Lw, ns, acc); break;
      BLASNET_WG(8) BLASNET_WG(7) BLASNET_WG(6) BLASNET_WG(5) BLASNET_WG(4) BLASNET_WG(3) BLASNET_WG(2)
#undef BLASNET_WG
      default: wg_block<COB, 1>(gyw, gstride, gn, xr, xn, dw, nk, k0, Lw, ns, acc);
    }
    k0 += kc;
  }
}

void wgrad_kernel(const float* gyw, int64_t gstride, int64_t gn, int64_t cob, const float* xr, int64_t xn, int64_t dw,
                  int64_t nk, int64_t Lw, int64_t ns, float* acc) {
  switch (cob) {
    case 1: return wg_cob<1>(gyw, gstride, gn, xr, xn, dw, nk, Lw, ns, acc);
    case 2: return wg_cob<2>(gyw, gstride, gn, xr, xn, dw, nk, Lw, ns, acc);
    case 3: return wg_cob<3>(gyw, gstride, gn, xr, xn, dw, nk, Lw, ns, acc);
    default: return wg_cob<4>(gyw, gstride, gn, xr, xn, dw, nk, Lw, ns, acc);
  }
}

// h[q] = s[q+1] > s[q] ? s[q+1] : s[q] for q < n (s is read on [0, n]); returns
// nonzero when any of s[0..n] is NaN (h is then unreliable).
int pair_max_kernel(const float* s, float* h, int64_t n) {
  int64_t q = 0;
  int nan = 0;
#if BLASNET_DIRECT_V > 1
  typedef int vi __attribute__((vector_size(BLASNET_DIRECT_V * 4)));
  vi bad = {};
  for (; q + V <= n; q += V) {
    const vf a = load(s + q), b = load(s + q + 1);
    bad |= (a != a) | (b != b);
    store(h + q, b > a ? b : a);
  }
  for (int i = 0; i < V; i++) nan |= bad[i];
#endif
  for (; q < n; q++) {
    const float a = s[q], b = s[q + 1];
    nan |= (a != a) | (b != b);
    h[q] = b > a ? b : a;
  }
  return nan;
}
