#!/usr/bin/python3
"""ResNet-8 (CIFAR-style, 32x32x3) for the serving rows of the benchmark.

    /usr/bin/python3 bench/serving/resnet8.py --export DIR
        writes DIR/resnet8.onnx (dynamic batch, opset 13), DIR/resnet8.safetensors
        (the same weights, PyTorch state-dict keys) and DIR/reference.json (the
        eval output on a fixed input, for blasnet to check it computes the same
        network); prints one JSON line.
    /usr/bin/python3 bench/serving/resnet8.py --bench --threads N [--quick]
        PyTorch's own figures: batch-1 latency p50/p99 and batch-64 throughput,
        eval + no_grad; prints one JSON line (exit 0 on failure, with "error").

The same architecture is defined for blasnet in bench/serving/resnet8.js:
stem conv3x3(3,16)-BN-ReLU; three basic blocks (16, 32 stride 2, 64 stride 2;
conv-BN-ReLU-conv-BN + shortcut, 1x1 conv + BN when the shape changes, then
ReLU); global average pool; linear(64, 10). Batch-norm statistics are moved off
their init so they are not identities.
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def build(torch, nn, F):
    class Block(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.conv1 = nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(o)
            self.conv2 = nn.Conv2d(o, o, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(o)
            self.down = nn.Sequential(nn.Conv2d(i, o, 1, stride=s, bias=False), nn.BatchNorm2d(o)) if s != 1 or i != o else None

        def forward(self, x):
            idt = self.down(x) if self.down is not None else x
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + idt)

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(16)
            self.layer1 = Block(16, 16, 1)
            self.layer2 = Block(16, 32, 2)
            self.layer3 = Block(32, 64, 2)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = F.relu(self.bn(self.stem(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    torch.manual_seed(0)
    m = ResNet8()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features) + 0.5)
                mod.weight.copy_(torch.randn(mod.num_features) * 0.2 + 1)
                mod.bias.copy_(torch.randn(mod.num_features) * 0.1)
    return m.eval()


def fixed_input(torch):
    n = 2 * 3 * 32 * 32
    return torch.tensor([math.sin(i * 0.01) for i in range(n)], dtype=torch.float32).reshape(2, 3, 32, 32)


def export(out_dir):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "fixtures"))
    from safetensors_py import save

    os.makedirs(out_dir, exist_ok=True)
    m = build(torch, nn, F)
    onnx = os.path.join(out_dir, "resnet8.onnx")
    torch.onnx.export(m, torch.zeros(1, 3, 32, 32), onnx + ".tmp", input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, do_constant_folding=True)
    os.replace(onnx + ".tmp", onnx)
    save(dict(m.state_dict()), os.path.join(out_dir, "resnet8.safetensors"))
    with torch.no_grad():
        y = m(fixed_input(torch))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"input": "sin(0.01 i), shape [2,3,32,32]", "output": y.reshape(-1).tolist()}, f)
    print(json.dumps({"ok": True, "dir": out_dir, "torch": torch.__version__}))


def bench(threads, quick):
    out = {"name": "pytorch-serve", "threads": threads}
    try:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        out["version"] = torch.__version__
        m = build(torch, nn, F)
        with torch.no_grad():
            x1 = torch.randn(1, 3, 32, 32)
            calls = 200 if quick else 2000
            for _ in range(200):
                m(x1)
            lat = []
            for _ in range(calls):
                t = time.perf_counter()
                m(x1)
                lat.append((time.perf_counter() - t) * 1e6)
            lat.sort()
            r = out["resnet8"] = {}
            r["b1_p50_us"] = lat[len(lat) // 2]
            r["b1_p99_us"] = lat[int(len(lat) * 0.99)]
            x64 = torch.randn(64, 3, 32, 32)
            t0 = time.perf_counter()
            i = 0
            while i < 3 or (time.perf_counter() - t0 < 0.2 and i < 100):
                m(x64)
                i += 1
            ts = []
            for _ in range(5 if quick else 30):
                t = time.perf_counter()
                m(x64)
                ts.append(time.perf_counter() - t)
            ts.sort()
            r["b64_img_s"] = 64 / ts[len(ts) // 2]
        log(f"pytorch resnet8: b1 p50 {r['b1_p50_us']:.0f} us, b64 {r['b64_img_s']:.0f} img/s")
    except Exception as e:  # noqa: BLE001 - one JSON line whatever happened
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description="ResNet-8 for the serving benchmark")
    p.add_argument("--export", metavar="DIR")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.export:
        try:
            export(a.export)
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
            return 1
        return 0
    if a.bench:
        bench(a.threads, a.quick)
        return 0
    p.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
