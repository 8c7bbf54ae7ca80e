#!/usr/bin/python3
"""Export the benchmark's LeNet-5 to ONNX for bench/ort_worker.js.

    /usr/bin/python3 bench/export_onnx.py OUT.onnx [--opset 13]

The weights are a fresh (seeded) init: they don't matter for speed.  Input
"input" is float32 [batch, 1, 28, 28] with a dynamic batch axis; output "logits"
is [batch, 10].  torch.onnx.export in torch 1.13 writes the protobuf itself, so
the `onnx` Python package is NOT needed.  Prints one JSON line on stdout
({"ok": true, "path": ..., ...} or {"error": ...}) and diagnostics on stderr;
exits 1 on failure so a caller can check $?.
"""
import argparse
import json
import os
import sys


def lenet(nn):
    """Modern LeNet-5, same layers as bench/torch_worker.py and blasnet's models.LeNet()."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def main():
    p = argparse.ArgumentParser(description="export LeNet-5 to ONNX (dynamic batch)")
    p.add_argument("out", help="output .onnx file")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset (default 13)")
    a = p.parse_args()
    tmp = a.out + ".tmp"
    try:
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        model = lenet(nn).eval()
        dummy = torch.zeros(1, 1, 28, 28)
        out_dir = os.path.dirname(os.path.abspath(a.out))
        os.makedirs(out_dir, exist_ok=True)
        torch.onnx.export(
            model, dummy, tmp,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=a.opset, do_constant_folding=True,
        )
        os.replace(tmp, a.out)  # never leave a half-written model behind
        print(json.dumps({"ok": True, "path": a.out, "opset": a.opset,
                          "torch": torch.__version__, "bytes": os.path.getsize(a.out)}))
        return 0
    except Exception as e:  # noqa: BLE001 - one JSON line whatever went wrong
        if os.path.exists(tmp):
            os.remove(tmp)
        print(f"export failed: {type(e).__name__}: {e}", file=sys.stderr)
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1


if __name__ == "__main__":
    sys.exit(main())
