"""Write a benchmark run as markdown + JSON + PNG plots in a dated folder."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COMMAND = "make bench"


def _plot_batching(batching: dict, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in batching["runs"].items():
        ax.plot(
            [r["concurrency"] for r in runs], [r["audio_s_per_s"] for r in runs], "o-", label=name
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("audio seconds per wall second")
    ax.set_title(f"Batching gain ({batching['model']})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _plot_baseline(baseline: dict, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = ["p50", "p95"]
    b = [baseline["baseline"]["p50_s"], baseline["baseline"]["p95_s"]]
    v = [baseline["voxserve"]["p50_s"], baseline["voxserve"]["p95_s"]]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], b, width=0.4, label="naive Sanic + openai-whisper")
    ax.bar([i + 0.2 for i in x], v, width=0.4, label="VoxServe")
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("latency (s)")
    ax.set_title(f"Latency at concurrency {baseline['voxserve']['concurrency']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def write(results: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    if "batching" in results:
        _plot_batching(results["batching"], folder / "batching.png")
    if "baseline" in results:
        _plot_baseline(results["baseline"], folder / "baseline.png")
    (folder / "report.md").write_text(render(results))
    return folder / "report.md"


def render(r: dict) -> str:
    hw = r["hardware"]
    lines = [
        f"# VoxServe benchmarks — {r['started']}",
        "",
        f"Hardware: {hw['cpu']}, {hw['cores']} cores, no GPU; Python {hw['python']}. "
        f"One TorchServe worker per model, one torch thread each. Command: `{COMMAND}` "
        f"(took {r['wall_s']:.0f} s). Figures are ratios measured side by side in this run; "
        "absolute numbers vary with the machine's load.",
        "",
    ]
    if "batching" in r:
        b = r["batching"]
        lines += [
            "## 1. Batching gain",
            "",
            f"{b['model']}, clip `{b['clip']}`, registered twice with the same weights "
            "(batchSize 1 and 8, maxBatchDelay 100 ms). Audio seconds per wall second:",
            "",
            "| concurrency | batch 1 | batch 8 | gain | requests/batch seen | windows/pass seen |",
            "|---|---|---|---|---|---|",
        ]
        for one, eight, gain in zip(
            b["runs"]["tiny-en-b1"], b["runs"]["tiny-en-b8"], b["gain_b8_over_b1"], strict=True
        ):
            lines.append(
                f"| {one['concurrency']} | {one['audio_s_per_s']} | {eight['audio_s_per_s']} | "
                f"**{gain}×** | {eight['max_requests_per_batch']} | {eight['max_windows_per_pass']} |"
            )
        lines += ["", "![batching](batching.png)", ""]
    if "baseline" in r:
        b = r["baseline"]
        lines += [
            "## 2. Against the naive baseline",
            "",
            f"A Sanic handler calling openai-whisper's `transcribe` inline (what the original "
            f"app did) vs VoxServe; {b['model']}, clip `{b['clip']}`, concurrency "
            f"{b['voxserve']['concurrency']}, {b['voxserve']['requests']} requests each.",
            "",
            "| | audio s / s | p50 (s) | p95 (s) |",
            "|---|---|---|---|",
            f"| naive baseline | {b['baseline']['audio_s_per_s']} | {b['baseline']['p50_s']} | {b['baseline']['p95_s']} |",
            f"| VoxServe | {b['voxserve']['audio_s_per_s']} | {b['voxserve']['p50_s']} | {b['voxserve']['p95_s']} |",
            f"| **ratio** | **{b['throughput_ratio']}×** | **{b['p50_ratio']}×** faster | **{b['p95_ratio']}×** faster |",
            "",
            "![baseline](baseline.png)",
            "",
        ]
    if "overhead" in r:
        o = r["overhead"]
        lines += [
            "## 3. Serving overhead",
            "",
            f"One window (`{o['clip']}`, {o['model']}) through client + TorchServe: "
            f"{o['served_s']} s; the same model in-process: {o['in_process_s']} s; "
            f"ratio **{o['ratio']}** (includes maxBatchDelay = {o['max_batch_delay_ms']} ms, "
            "which a lone request always waits).",
            "",
        ]
    if "decode" in r:
        d = r["decode"]
        formats = ", ".join(
            f"{k}: {v['in_process_s']} s vs {v['ffmpeg_cli_s']} s"
            for k, v in d["per_format"].items()
        )
        lines += [
            "## 4. Decode cost",
            "",
            f"{d['audio_s']} s of audio (m4a, mp3, webm, wav): PyAV + torchaudio in-process "
            f"{d['in_process_s']} s vs the ffmpeg CLI making the same 16 kHz PCM "
            f"{d['ffmpeg_cli_s']} s (CLI time / in-process time = **{d['ratio_cli_over_in_process']}**; "
            "in-process also skips the subprocess and pipe an ffmpeg-based server would add). "
            f"Per format: {formats}.",
            "",
        ]
    if "long_upload" in r:
        lines += [
            "## 5. A 3-minute upload end to end",
            "",
            "The original users saw ~120 s for a 3-minute file, blocking their API.",
            "",
            "| model | audio (s) | VoxServe (s) | realtime factor | naive app (s) | speed-up | windows | decode share |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for model, v in r["long_upload"].items():
            lines.append(
                f"| {model} | {v['audio_s']} | {v['latency_s']} | {v['realtime_factor']} | "
                f"{v['naive_latency_s']} | **{v['speed_up']}×** | {v['windows']} | {v['decode_share'] * 100:.1f}% |"
            )
        lines.append("")
    if "event_loop" in r:
        e = r["event_loop"]
        lines += [
            "## 6. A non-blocking client",
            "",
            f"A 10 ms ticker on the app's event loop while {e['in_flight']} transcriptions "
            f"were in flight through `AsyncClient`: {e['ticks']} ticks, worst lag "
            f"{e['worst_lag_ms']} ms, p99 {e['p99_lag_ms']} ms.",
            "",
        ]
    if "app_health" in r:
        h = r["app_health"]
        lines += [
            "The Sanic example's `/health`: "
            f"idle p50 {h['idle_p50_ms']} ms / p99 {h['idle_p99_ms']} ms; with "
            f"{h['uploads']} uploads in flight p50 {h['load_p50_ms']} ms / p99 {h['load_p99_ms']} ms "
            f"(p99 ratio {h['p99_ratio']}).",
            "",
        ]
    if "memory" in r:
        lines += ["## 7. Worker memory", "", "| model | peak RSS (MiB) |", "|---|---|"]
        for model, v in r["memory"].items():
            lines.append(f"| {model} | {v['peak_rss_mb']} |")
        lines += [
            "",
            "Peak resident memory (VmHWM) of each worker after all runs above, including the "
            "3-minute upload decoded in micro-batches of up to 8 windows per forward pass.",
            "",
        ]
    lines += ["", "Raw figures: [results.json](results.json)."]
    return "\n".join(lines) + "\n"
