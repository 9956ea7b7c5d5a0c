"""GPU benchmark of the batched Whisper path (run where a GPU is lent)."""
