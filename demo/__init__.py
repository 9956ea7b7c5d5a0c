"""The main job end to end: serve the default model and transcribe real speech."""
