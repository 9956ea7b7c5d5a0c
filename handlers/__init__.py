"""Server side of VoxServe: the audio pipeline and its TorchServe handlers."""
