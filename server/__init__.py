"""Start, watch and stop a local TorchServe serving VoxServe's archives."""
