"""The benchmark tools themselves (the benchmarks never gate the test run)."""

from __future__ import annotations

import json

from bench import report
from bench.gpu import run as gpu_run
from bench.measure import percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile([3.0], 99) == 3.0


def test_report_states_its_figures_and_command(tmp_path):
    run = {
        "concurrency": 4,
        "audio_s_per_s": 2.0,
        "max_requests_per_batch": 4,
        "max_windows_per_pass": 4,
    }
    results = {
        "started": "2026-12-03-1900",
        "wall_s": 100.0,
        "hardware": {"cpu": "test cpu", "cores": 2, "python": "3.11"},
        "batching": {
            "model": "whisper tiny.en",
            "clip": "short.wav",
            "runs": {"tiny-en-b1": [{**run, "audio_s_per_s": 1.0}], "tiny-en-b8": [run]},
            "gain_b8_over_b1": [2.0],
        },
    }
    path = report.write(results, tmp_path / "run")
    text = path.read_text()
    assert "**2.0×**" in text and "make bench" in text and "test cpu" in text
    assert (tmp_path / "run" / "batching.png").stat().st_size > 1000
    assert json.loads((tmp_path / "run" / "results.json").read_text())["wall_s"] == 100.0


def test_gpu_script_runs_on_cpu_with_tiny_dimensions(tmp_path):
    out = tmp_path / "gpu.json"
    assert (
        gpu_run.main(
            [
                "--dims",
                "tiny",
                "--device",
                "cpu",
                "--batches",
                "1",
                "2",
                "--steps",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    runs = json.loads(out.read_text())["runs"]
    assert [r["windows_per_pass"] for r in runs] == [1, 2]
    assert all(r["audio_s_per_s"] > 0 for r in runs)
