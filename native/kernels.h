// Kernel declarations. Every kernel takes raw pointers and sizes (shapes in the
// comments); the binding validates buffer sizes before calling. Layouts are
// row-major and contiguous.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"

namespace blasnet {

// ---- elementwise ------------------------------------------------------------
enum BinaryOp {
  kAdd = 0, kSub, kMul, kDiv, kPow, kMaximum, kMinimum, kGt, kLt, kGe, kLe, kEq,
  // Gradient factors (PyTorch's formulas, NaN included), numbered apart from the ops above:
  // d maximum(a,b)/da = a<b ? 0 : a==b ? 1/2 : 1 (NaN on either side: 1); d minimum/da likewise with a>b;
  // d pow(a,b)/da = b==0 ? 0 : b·a^(b-1);  d pow(a,b)/db = a==0 && b>=0 ? 0 : a^b·log(a).
  kMaximumGrad = 32, kMinimumGrad, kPowGradBase, kPowGradExponent
};
enum UnaryOp {
  kNeg = 0, kExp, kLog, kSqrt, kRelu, kSigmoid, kTanh, kAbs, kSquare, kReciprocal,
  kAddScalar, kMulScalar, kPowScalar, kRsubScalar, kRdivScalar, kClampMin, kClampMax, kSign,
  kGtScalar, kLtScalar, kLog1p, kRsqrt, kLeakyRelu, kDivScalar, kGeScalar, kLeScalar
};
enum ActBackward { kReluBackward = 0, kSigmoidBackward, kTanhBackward };

// out[i] = op(a[ia], b[ib]) over out_shape, with element strides for a and b
// (0 on broadcast dims).
void binary(int op, const float* a, const float* b, float* out, const std::vector<int64_t>& out_shape,
            const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides);
void unary(int op, const float* x, float* out, int64_t n, float s);
// gx = gy * f'(.) expressed through the forward output y
void activation_backward(int op, const float* gy, const float* y, float* gx, int64_t n);
// out = sum of `in` over the dims where out_strides is 0 (out must be zeroed... done here)
void sum_to(const float* in, float* out, int64_t out_numel, const std::vector<int64_t>& in_shape,
            const std::vector<int64_t>& out_strides);
// dst (+)= alpha * src
void axpy(float* dst, const float* src, int64_t n, float alpha);
void fill(float* dst, int64_t n, float v);
// out = x with dims permuted; shape is x's shape
void permute(const float* x, float* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm);
// rows of x [R, row] picked by idx → out [len(idx), row]
void index_rows(const float* x, float* out, int64_t row, const int32_t* idx, int64_t n);
// uniform [0,1) or standard normal from a counter-based generator keyed by `key`
void random_fill(float* out, int64_t n, uint64_t key, bool normal, float a, float b);

// ---- indexing and joining (index.cc) -------------------------------------------
// out[i] = x[offset + sum_j i_j xstride[j] + sum_k idx[k].xstride * idx_k(i)], i over
// shape; idx_k(i) = idx[k].data[sum_j i_j idx[k].stride[j]] (an integer-valued float,
// negative counting from the end of a dim of idx[k].size when wrap). Callers validate
// the values (index_check) and that every position is inside x.
struct IndexSpec {
  struct Index {
    const float* data;
    std::vector<int64_t> stride;  // per output dim (0: broadcast)
    int64_t xstride;              // x elements per index step
    int64_t size;                 // the indexed dim's size
  };
  std::vector<int64_t> shape, xstride;
  int64_t offset = 0;
  std::vector<Index> idx;
};
// First position in idx[0, n) that is not an integer in [0, size) ([-size, size) with
// wrap), or -1.
int64_t index_check(const float* idx, int64_t n, int64_t size, bool wrap);
void index_gather(const float* x, float* out, const IndexSpec& spec);
// dst[position of i] (+)= src[i]; accumulate adds (repeated indices sum).
void index_scatter(float* dst, const float* src, const IndexSpec& spec, bool accumulate);
// out = c != 0 ? a : b over shape, each operand with broadcast strides.
void where_forward(const float* c, const float* a, const float* b, float* out, const std::vector<int64_t>& shape,
                   const std::vector<int64_t>& cs, const std::vector<int64_t>& as, const std::vector<int64_t>& bs);

// a + b, and when both are NaN, a's NaN (sign and payload): the rule of x86's
// addss, made explicit because compilers swap the operands of a commutative add
// at will, so two loops computing the same sum (the eager add and a plan's fused
// epilogue) could otherwise return different NaN bits.
inline float add_nan_first(float a, float b) { return a != a ? a : a + b; }
// d[i] = add_nan_first(a[i], b[i]) for i < n, four at a time (GCC does not vectorise
// the scalar form's NaN test): the sum, or a itself where a is NaN. d may be a or b.
inline void add_nan_first_span(const float* a, const float* b, float* d, int64_t n) {
  typedef float v4 __attribute__((vector_size(16)));
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v4 x, y;
    std::memcpy(&x, a + i, sizeof x);
    std::memcpy(&y, b + i, sizeof y);
    const v4 r = x != x ? x : x + y;
    std::memcpy(d + i, &r, sizeof r);
  }
  for (; i < n; i++) d[i] = add_nan_first(a[i], b[i]);
}

// ---- reductions (x viewed as [outer, size, inner]) ----------------------------
void reduce_sum(const float* x, float* out, int64_t outer, int64_t size, int64_t inner, float scale);
void reduce_max(const float* x, float* out, float* argmax, int64_t outer, int64_t size, int64_t inner);
void softmax(const float* x, float* y, int64_t outer, int64_t size, int64_t inner, bool log);
void softmax_backward(const float* gy, const float* y, float* gx, int64_t outer, int64_t size, int64_t inner, bool log);

// ---- linear algebra -----------------------------------------------------------
// C[b] = op(A[b]) op(B[b]); a_bstride/b_bstride 0 to broadcast one side over the batch.
void matmul(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N, int64_t K,
            bool transA, bool transB, int64_t a_bstride, int64_t b_bstride, float beta);
// y[N, out] = x[N, in] W[out, in]^T + b
void linear_forward(const float* x, const float* W, const float* b, float* y, int64_t N, int64_t in, int64_t out, bool relu = false);

// ---- convolution: generic over 3 spatial dims (1-D and 2-D use size-1 dims) -----
struct ConvGeom {
  int64_t N, C, D, H, W;           // input [N, C, D, H, W]
  int64_t Cout, kd, kh, kw;        // weight [Cout, C/groups, kd, kh, kw]
  int64_t sd, sh, sw;              // stride
  int64_t pd, ph, pw;              // padding before each dim (after-padding only changes the output size)
  int64_t dd, dh, dw;              // dilation
  int64_t groups;
  int64_t OD, OH, OW;              // output [N, Cout, OD, OH, OW]
  int64_t in_plane() const { return D * H * W; }
  int64_t out_plane() const { return OD * OH * OW; }
  int64_t kvol() const { return kd * kh * kw; }
  bool pointwise() const {
    return kd == 1 && kh == 1 && kw == 1 && sd == 1 && sh == 1 && sw == 1 && pd == 0 && ph == 0 && pw == 0 &&
           OD == D && OH == H && OW == W;
  }
};
// relu: apply max(0, .) to the output while it is still in cache (inference plans)
void conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu = false);
// Any of gx / gw / gb may be null (not needed). gw and gb are overwritten.
void conv_backward(const ConvGeom& g, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb);
// gb [Cout] = the sum of gy over the batch and each plane (shared by every conv path).
void conv_bias_grad(const ConvGeom& g, const float* gy, float* gb);
// The bound on the lowering's workspace of one conv call, all tiles in flight together (bytes;
// default 64 MiB). The floor is one output row's lowering, whatever the limit.
void set_conv_workspace_limit(size_t bytes);
size_t conv_workspace_limit();
// Winograd F(2x2, 3x3) (conv_winograd.cc) for 2-D 3x3, stride 1, dilation 1, one group, padding <= 2.
// Mode: 0 off (the GEMM path always), 1 auto (where it is faster: conv_uses_winograd), 2 force (wherever it applies).
bool winograd_applies(const ConvGeom& g);
void set_conv_winograd(int mode);
int conv_winograd();
bool conv_uses_winograd(const ConvGeom& g);
void conv_forward_winograd(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, bool relu);
void conv_backward_input_winograd(const ConvGeom& g, const float* w, const float* gy, float* gx);
void conv_backward_weight_winograd(const ConvGeom& g, const float* x, const float* gy, float* gw);

// ---- pooling: planes = N*C, spatial [D, H, W] → [OD, OH, OW] -------------------
struct PoolGeom {
  int64_t planes, D, H, W, OD, OH, OW;
  int64_t kd, kh, kw, sd, sh, sw, pd, ph, pw;
  int64_t dd = 1, dh = 1, dw = 1;  // max pools: dilation (16-entry geometries leave it 1)
};
// idx may be null (inference: no backward); relu applies max(0, .) to the pooled values
void max_pool_forward(const PoolGeom& g, const float* x, float* y, int32_t* idx);
void max_pool_backward(const PoolGeom& g, const float* gy, const int32_t* idx, float* gx);
// divisor > 0 overrides the window size (PyTorch's divisor_override)
void avg_pool_forward(const PoolGeom& g, const float* x, float* y, bool count_include_pad, int64_t divisor = 0);
void avg_pool_backward(const PoolGeom& g, const float* gy, float* gx, bool count_include_pad, int64_t divisor = 0);
// Adaptive pools over [D, H, W] → [OD, OH, OW] (g's kernel/stride/padding unused): window i of a dim
// covers [floor(i*L/O), ceil((i+1)*L/O)). Max: idx (flat per-plane argmax) may be null.
void adaptive_avg_pool3d_forward(const PoolGeom& g, const float* x, float* y);
void adaptive_avg_pool3d_backward(const PoolGeom& g, const float* gy, float* gx);
void adaptive_max_pool3d_forward(const PoolGeom& g, const float* x, float* y, int32_t* idx);
// y[p, idx[p, i]] = x[p, i] over planes of in → out elements (later duplicates win); backward gathers.
void max_unpool_forward(int64_t planes, int64_t in, int64_t out, const float* x, const int32_t* idx, float* y);
void max_unpool_backward(int64_t planes, int64_t in, int64_t out, const float* gy, const int32_t* idx, float* gx);

// ---- padding (nn.functional.pad): [outer, D, H, W] → [outer, OD, OH, OW] -----------
// map[d] holds, for each output coordinate of dim d, its source coordinate or -1 (constant fill).
struct PadMap {
  int64_t outer, D, H, W, OD, OH, OW;
  const int64_t *md, *mh, *mw;
};
// The maps of a pad of [L0, L1, L2] to [O0, O1, O2] with `before` elements before each dim
// (negative: cropped); mode 0 constant, 1 reflect, 2 replicate, 3 circular. Returns null,
// or why the pad is impossible (every map entry is then inside its dim or -1).
const char* pad_maps(const int64_t before[3], const int64_t L[3], const int64_t O[3], int mode, std::vector<int64_t> maps[3]);
void pad_forward(const PadMap& m, const float* x, float* y, float value);
void pad_backward(const PadMap& m, const float* gy, float* gx);
void adaptive_avg_pool_forward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* x, float* y);
void adaptive_avg_pool_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const float* gy, float* gx);

// ---- losses -----------------------------------------------------------------
// logits [N, C, S] (S: the product of the extra dims d1.., 1 for [N, C]), target [N, S]
// (class indices stored as floats, or ignore_index; validated by check_targets), weight [C] or null.
// loss_rows [N, S] gets each row's loss; probs [N, C, S] the softmax, kept for backward.
// The forwards return the 'mean' divisor: the sum of weight[target] over the targets not ignored.
double cross_entropy_forward(const float* logits, const float* target, const float* weight, float* loss_rows,
                             float* probs, int64_t N, int64_t C, int64_t S, float smoothing, int64_t ignore_index);
void cross_entropy_backward(const float* probs, const float* target, const float* weight, const float* scale,
                            int64_t scale_n, float* gx, int64_t N, int64_t C, int64_t S, float smoothing,
                            int64_t ignore_index);
double nll_forward(const float* x, const float* target, const float* weight, float* loss_rows, int64_t N, int64_t C,
                   int64_t S, int64_t ignore_index);
void nll_backward(const float* target, const float* weight, const float* scale, int64_t scale_n, float* gx, int64_t N,
                  int64_t C, int64_t S, int64_t ignore_index);
// throws Error naming the first target that is neither a class index in [0, C) nor ignore_index
void check_targets(const char* op, const float* target, int64_t R, int64_t C, int64_t ignore_index);

// ---- batch norm (x [N, C, S]) --------------------------------------------------
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                        float* save_invstd, float* running_mean, float* running_var, int64_t N, int64_t C,
                        int64_t S, bool training, float momentum, float eps);
void batch_norm_backward(const float* x, const float* gy, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* gx, float* ggamma, float* gbeta, int64_t N, int64_t C,
                         int64_t S, bool training);

// ---- optimizers (optim.cc; in place, p, g and every state buffer hold n elements) ---
// maximize: step along +g instead of -g. Formulas in train.cc, as PyTorch 1.13's.
void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              bool nesterov, float weight_decay, bool first, bool maximize);
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, float lr, float beta1,
               float beta2, float eps, float weight_decay, int64_t step, bool amsgrad, bool decoupled, bool maximize);
void adadelta_step(float* p, const float* g, float* square_avg, float* acc_delta, int64_t n, float lr, float rho,
                   float eps, float weight_decay, bool maximize);
// grad_avg null unless centered; momentum_buffer null unless momentum > 0
void rmsprop_step(float* p, const float* g, float* square_avg, float* grad_avg, float* momentum_buffer, int64_t n,
                  float lr, float alpha, float eps, float weight_decay, float momentum, bool maximize);
// clr: the decayed learning rate lr / (1 + (step - 1) lr_decay)
void adagrad_step(float* p, const float* g, float* sum, int64_t n, float clr, float eps, float weight_decay,
                  bool maximize);

}  // namespace blasnet
