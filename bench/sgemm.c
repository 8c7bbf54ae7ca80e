/* The same sgemm blasnet's matmul runs, called from C: the reference for the
 * library's overhead (issue: 1024^3 matmul within 20% of C).
 *   cc -O2 bench/sgemm.c -I<openblas include> -lopenblas -o sgemm && ./sgemm 1024 5
 * Prints GFLOP/s (median of the runs) and the OpenBLAS core. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1024, reps = argc > 2 ? atoi(argv[2]) : 5;
  float *A = aligned_alloc(64, sizeof(float) * n * n), *B = aligned_alloc(64, sizeof(float) * n * n),
        *C = aligned_alloc(64, sizeof(float) * n * n);
  for (long i = 0; i < (long)n * n; i++) {
    A[i] = (float)rand() / RAND_MAX - 0.5f;
    B[i] = (float)rand() / RAND_MAX - 0.5f;
  }
  double ts[64];
  if (reps > 64) reps = 64;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, A, n, B, n, 0.f, C, n);
  for (int r = 0; r < reps; r++) {
    double t = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, A, n, B, n, 0.f, C, n);
    ts[r] = now() - t;
  }
  qsort(ts, reps, sizeof(double), cmp);
  printf("{\"n\": %d, \"gflops\": %.2f, \"core\": \"%s\", \"threads\": %d}\n", n, 2.0 * n * n * n / ts[reps / 2] / 1e9,
         openblas_get_corename(), openblas_get_num_threads());
  free(A);
  free(B);
  free(C);
  return 0;
}
