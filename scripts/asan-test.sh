#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer + UBSan build of the native addon.
#
#   scripts/asan-test.sh                      # the CI subset (see DEFAULT_TESTS)
#   scripts/asan-test.sh test/nn test/io      # any vitest paths/filters
#   scripts/asan-test.sh --all                # every test file, in one vitest run (slow; the
#                                             # timing/RSS tests may fail under ASan)
#
# Environment: BLASNET_ASAN_BUILD_DIR (default build-asan/), BLASNET_ASAN_TIMEOUT
# (seconds per vitest run, default 600), CC (gcc: where libasan comes from).
#
# 1. Builds the addon with -DBLASNET_SANITIZE=ON (-fsanitize=address,undefined,
#    RelWithDebInfo) into its own directory, $BLASNET_ASAN_BUILD_DIR (default
#    build-asan/); the normal build/ is never touched.
# 2. Stages a copy of the package (package.json, CMakeLists.txt, src/, test/,
#    dist/, node_modules as a link) in a temp dir whose build/Release holds the
#    sanitized binary, so src/native.ts and dist/ load it with no code change.
# 3. Runs vitest there with libasan (and libubsan) preloaded into node and leak
#    detection off (V8 keeps memory until exit by design). ASan reports go to a
#    log directory, UBSan reports to stderr (gcc's libubsan ignores log_path);
#    both halt the process, and the logs and the vitest output are scanned.
# Exits non-zero when a test fails, a run hangs past the limit, or any
# sanitizer report appears.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BLASNET_ASAN_BUILD_DIR:-$ROOT/build-asan}
CONFIG=RelWithDebInfo
# The CI subset (about 1 minute on 2 cores, plus the build): tensors, conv/pool
# against PyTorch fixtures, nn/optim, safetensors, data, async inference
# (worker_threads, concurrent plans) and the API fuzzer. Left out: test/cli
# (trains LeNet in child processes: about 7 minutes under ASan) and the timing
# and RSS tests (test/serving/event-loop, test/serving/memory), which measure
# the sanitizer rather than the library.
DEFAULT_TESTS=(test/tensor test/conv test/nn test/io test/data test/serving/async.test.ts test/serving/fuzz.test.ts test/serving/compile.test.ts test/serving/nan.test.ts test/serving/errors.test.ts test/serving/plan-native.test.ts)

if [[ ${1:-} == --all ]]; then
  TESTS=()
elif [[ $# -gt 0 ]]; then
  TESTS=("$@")
else
  TESTS=("${DEFAULT_TESTS[@]}")
fi

CC_BIN=${CC:-gcc}
ASAN_LIB=$("$CC_BIN" -print-file-name=libasan.so)
UBSAN_LIB=$("$CC_BIN" -print-file-name=libubsan.so)
if [[ ! -e $ASAN_LIB || $ASAN_LIB == libasan.so ]]; then
  echo "asan-test: libasan not found ($CC_BIN -print-file-name=libasan.so); install gcc's sanitizer runtime (Debian: libasan8 libubsan1)" >&2
  exit 2
fi
ASAN_LIB=$(readlink -f "$ASAN_LIB")
UBSAN_LIB=$(readlink -f "$UBSAN_LIB")

cd "$ROOT"
start=$(date +%s)

echo "asan-test: compiling TypeScript (dist/)"
npm run --silent build:ts

echo "asan-test: building the sanitized addon in ${BUILD_DIR#"$ROOT"/}"
node node_modules/cmake-js/bin/cmake-js compile --out "$BUILD_DIR" -B "$CONFIG" \
  --CDBLASNET_SANITIZE=ON --log-level warn
ADDON="$BUILD_DIR/$CONFIG/blasnet.node"
if [[ ! -f $ADDON ]]; then
  echo "asan-test: the build did not produce $ADDON" >&2
  exit 2
fi
syms=$(nm -D "$ADDON")  # (not piped into grep -q: with pipefail, SIGPIPE would fail the check)
if [[ $syms != *__asan_init* || $syms != *__ubsan_handle* ]]; then
  echo "asan-test: $ADDON is not instrumented (no __asan_init / __ubsan_handle_* symbols)" >&2
  exit 2
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/blasnet-asan.XXXXXX")
LOGS="$STAGE/sanitizer-logs"
cleanup() { rm -rf "$STAGE"; }
trap cleanup EXIT
mkdir -p "$STAGE/build/Release" "$LOGS"
cp "$ROOT/package.json" "$ROOT/CMakeLists.txt" "$ROOT/tsconfig.json" "$ROOT/vitest.config.mts" "$STAGE/"
cp -r "$ROOT/src" "$ROOT/test" "$ROOT/dist" "$STAGE/"
ln -s "$ROOT/node_modules" "$STAGE/node_modules"
cp "$ADDON" "$STAGE/build/Release/blasnet.node"

export LD_PRELOAD="$ASAN_LIB${UBSAN_LIB:+:$UBSAN_LIB}${LD_PRELOAD:+:$LD_PRELOAD}"
# detect_leaks=0: V8 and Node keep allocations until exit by design.
# allocator_may_return_null + max_allocation_size_mb: a huge request returns NULL
# (and the library throws "out of memory") instead of ASan aborting; the fuzz
# test's allocation-failure case relies on this in place of `ulimit -v`, which
# ASan's shadow memory cannot run under.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=66:allocator_may_return_null=1:max_allocation_size_mb=3072:detect_odr_violation=0:log_path=$LOGS/asan"
# UBSan (gcc's libubsan) ignores log_path here and prints to stderr: halt_on_error
# makes the process exit 67, and the vitest output is scanned below as well.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=67"
export BLASNET_UNDER_ASAN=1

# Prove the staged package loads the sanitized binary.
loaded=$(cd "$STAGE" && node -e "require('./dist'); process.stdout.write(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('blasnet.node'))[0] || '')")
if [[ $loaded != *"$STAGE/build/Release/blasnet.node"* ]]; then
  echo "asan-test: the staged package did not load $STAGE/build/Release/blasnet.node (got: ${loaded:-nothing})" >&2
  exit 2
fi

# Each path runs in its own vitest invocation under a wall-clock limit, so a
# hang (a native deadlock blocks the vitest worker for good) fails that entry
# and the others still report.
PER_RUN_TIMEOUT=${BLASNET_ASAN_TIMEOUT:-600}
if [[ ${#TESTS[@]} -eq 0 ]]; then RUNS=("") ; else RUNS=("${TESTS[@]}"); fi
status=0
summary=()
for entry in "${RUNS[@]}"; do
  label=${entry:-all tests}
  echo
  echo "asan-test: vitest run $label (limit ${PER_RUN_TIMEOUT}s)"
  t0=$(date +%s)
  set +e
  (cd "$STAGE" && timeout --kill-after=10 "$PER_RUN_TIMEOUT" node node_modules/vitest/vitest.mjs run ${entry:+"$entry"}) 2>&1 | tee -a "$STAGE/vitest.log"
  rc=${PIPESTATUS[0]}
  set -e
  dt=$(( $(date +%s) - t0 ))
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    summary+=("TIMEOUT  ${dt}s  $label (no result within ${PER_RUN_TIMEOUT}s: a hang)")
  elif [[ $rc -ne 0 ]]; then
    summary+=("FAIL     ${dt}s  $label (exit $rc)")
  else
    summary+=("ok       ${dt}s  $label")
  fi
  [[ $rc -ne 0 ]] && status=1
done

# Sanitizer logs: errors fail the run; warnings (e.g. "failed to allocate" when a
# test asks for too much memory on purpose) are only shown.
reports=$(grep -lE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' -r "$LOGS" 2>/dev/null | sort || true)
if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$STAGE/vitest.log" 2>/dev/null; then
  grep -E -A12 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$STAGE/vitest.log" > "$LOGS/from-test-output.txt" || true
  reports="$reports $LOGS/from-test-output.txt"
fi
warnings=$(find "$LOGS" -type f | sort)
if [[ -n $warnings && -z $reports ]]; then
  echo
  echo "asan-test: sanitizer warnings (not errors):"
  for f in $warnings; do sort "$f" | uniq -c | sed 's/^/  /'; done
fi
if [[ -n $reports ]]; then
  echo
  echo "asan-test: SANITIZER REPORTS:" >&2
  for f in $reports; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
  status=1
fi
elapsed=$(( $(date +%s) - start ))
echo
echo "asan-test: summary (LD_PRELOAD=$LD_PRELOAD)"
printf '  %s\n' "${summary[@]}"
if [[ $status -eq 0 ]]; then
  echo "asan-test: OK, no sanitizer reports (${elapsed}s in all)"
else
  echo "asan-test: FAILED${reports:+ with sanitizer reports (above)} (${elapsed}s in all)" >&2
fi
exit "$status"
