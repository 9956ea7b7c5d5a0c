"""The handler's batched Whisper path on a GPU, in-process (no Java needed).

Random weights with large-v3's dimensions (128 mel bins) and a fixed decode length, so
the figures measure compute, not what random weights would say: audio seconds per GPU
second against windows per forward pass, fp16 vs fp32, and peak GPU memory. With
``--checkpoint`` the same is measured for real weights (e.g. the converted base model).

    python -m bench.gpu.run --out bench/results/gpu.json              # on the GPU machine
    python -m bench.gpu.run --dims tiny --device cpu --batches 1 2    # a CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import whisper
from whisper.decoding import PyTorchInference

from handlers.transcriber import load_whisper

WINDOW_S = 30.0  # every window is a full Whisper input
DIMS = {
    "large-v3": whisper.model.ModelDimensions(
        n_mels=128, n_audio_ctx=1500, n_audio_state=1280, n_audio_head=20, n_audio_layer=32,
        n_vocab=51866, n_text_ctx=448, n_text_state=1280, n_text_head=20, n_text_layer=32,
    ),
    "tiny": whisper.model.ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
        n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1,
    ),
}  # fmt: skip


def random_model(
    dims: whisper.model.ModelDimensions, device: torch.device, fp16: bool
) -> whisper.Whisper:
    torch.manual_seed(0)  # random weights: speed and memory only
    model = whisper.Whisper(dims)
    model = model.half() if fp16 else model.float()
    if fp16:
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.float()
    return model.to(device).eval()


@torch.inference_mode()
def decode_fixed(model: whisper.Whisper, mel: torch.Tensor, steps: int) -> None:
    """Encoder once, then ``steps`` greedy decoder steps with the key/value cache."""
    features = model.embed_audio(mel)
    tokens = torch.full((mel.shape[0], 3), 50258, device=mel.device)
    inference = PyTorchInference(model, tokens.shape[1])
    try:
        for _ in range(steps):
            logits = inference.logits(tokens, features)[:, -1]
            tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], dim=-1)
    finally:
        inference.cleanup_caching()


def measure(
    model: whisper.Whisper, batch: int, steps: int, device: torch.device, fp16: bool
) -> dict:
    frames = 2 * model.dims.n_audio_ctx
    mel = torch.randn(batch, model.dims.n_mels, frames, device=device)
    mel = mel.half() if fp16 else mel
    decode_fixed(model, mel, 2)  # warm up kernels and allocator
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    decode_fixed(model, mel, steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {
        "windows_per_pass": batch,
        "seconds": round(elapsed, 4),
        "audio_s_per_s": round(batch * WINDOW_S / elapsed, 2),
        "peak_gpu_mb": round(peak, 1) if peak is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dims", default="large-v3", choices=sorted(DIMS))
    parser.add_argument("--checkpoint", type=Path, help="real weights to measure as well")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--steps", type=int, default=64, help="fixed decode length")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    report: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "steps": args.steps,
        "runs": [],
    }
    precisions = (True, False) if device.type == "cuda" else (False,)
    for fp16 in precisions:
        model = random_model(DIMS[args.dims], device, fp16)
        for batch in args.batches:
            row = {
                "weights": f"random {args.dims}",
                "fp16": fp16,
                **measure(model, batch, args.steps, device, fp16),
            }
            report["runs"].append(row)
            print(json.dumps(row), flush=True)
        del model
    if args.checkpoint:
        model = load_whisper(args.checkpoint, device)
        fp16 = device.type == "cuda"
        for batch in args.batches:
            row = {
                "weights": args.checkpoint.name,
                "fp16": fp16,
                **measure(model, batch, args.steps, device, fp16),
            }
            report["runs"].append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
