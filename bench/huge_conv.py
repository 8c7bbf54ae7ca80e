#!/usr/bin/python3
"""The 10,000² row of bench/run.js, PyTorch's side (blasnet's: huge_conv.js).

    /usr/bin/python3 bench/huge_conv.py --threads N [--size S] [--reps R]

conv2d 3→8 3×3 stride 2 (no padding, no bias) on [1, 3, S, S], forward + weight
gradient (torch.autograd.grad(y, w, y): the input does not require grad and the output
gradient is the output itself), best of R; peak RSS (ru_maxrss) of the whole process.
OpenBLAS inside torch at one thread, as torch_worker.py (PEERS.md). One line of JSON.
"""
import argparse, json, os, resource, sys, time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=0)
p.add_argument("--size", type=int, default=10000)
p.add_argument("--reps", type=int, default=2)
a = p.parse_args()
threads = a.threads or os.cpu_count() or 1
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ["OMP_NUM_THREADS"] = str(threads)
out = {"name": "pytorch", "size": a.size, "threads": threads}
try:
    import torch
    torch.set_num_threads(threads)
    MiB = 2 ** 20
    x = torch.randn(1, 3, a.size, a.size)
    w = torch.randn(8, 3, 3, 3, requires_grad=True)
    out["base_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    best = None
    for _ in range(a.reps):
        t0 = time.perf_counter()
        y = torch.nn.functional.conv2d(x, w, stride=2)
        t1 = time.perf_counter()
        g, = torch.autograd.grad(y, w, y)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best["total_s"]:
            best = {"fwd_s": t1 - t0, "wgrad_s": t2 - t1, "total_s": t2 - t0}
        out["output_mb"] = y.numel() * 4 / MiB
        del y, g
    out.update(best)
    out["input_mb"] = x.numel() * 4 / MiB
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["version"] = torch.__version__
except Exception as e:  # one JSON line whatever happens
    out["error"] = str(e)
print(json.dumps(out))
