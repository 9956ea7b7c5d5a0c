"""Build-time tools: fetch Whisper weights, convert them, pack TorchServe archives."""
