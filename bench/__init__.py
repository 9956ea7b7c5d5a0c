"""Benchmarks: what users feel, measured side by side in one run (``make bench``)."""
