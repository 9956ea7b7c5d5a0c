"""Read a CTranslate2 Whisper ``model.bin`` and turn it into an openai-whisper checkpoint.

The binary layout (little-endian) is: u32 format version, the spec name, u32 revision,
u32 variable count, then per variable its name, rank, dims, dtype, byte count and raw
bytes, and finally a list of (alias, target) name pairs. Strings are u16-length prefixed
and NUL terminated.

CTranslate2 fuses some projections that openai-whisper keeps apart (self-attention
q/k/v, cross-attention k/v); :func:`to_whisper_state_dict` splits them back. Whisper's
attention keys have no bias, and the matching slices of the fused biases are zero.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

SUPPORTED_FORMAT_VERSION = 6
WHISPER_SPEC = "WhisperSpec"

_DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}


class CheckpointFormatError(ValueError):
    """The file is not a CTranslate2 Whisper model this converter understands."""


@dataclass(frozen=True)
class CTranslate2Model:
    spec: str
    revision: int
    variables: dict[str, torch.Tensor]
    aliases: dict[str, str]


def _read(stream: BinaryIO, fmt: str) -> int:
    size = struct.calcsize("<" + fmt)
    raw = stream.read(size)
    if len(raw) != size:
        raise CheckpointFormatError("file ends early")
    return int(struct.unpack("<" + fmt, raw)[0])


def _read_string(stream: BinaryIO) -> str:
    length = _read(stream, "H")
    return stream.read(length).rstrip(b"\0").decode("utf-8")


def read_model_bin(path: Path) -> CTranslate2Model:
    """Parse ``model.bin`` into named tensors (kept in their stored dtype)."""
    with open(path, "rb") as stream:
        version = _read(stream, "I")
        if version != SUPPORTED_FORMAT_VERSION:
            raise CheckpointFormatError(
                f"CTranslate2 format version {version} is not supported "
                f"(expected {SUPPORTED_FORMAT_VERSION})"
            )
        spec = _read_string(stream)
        revision = _read(stream, "I")
        variables: dict[str, torch.Tensor] = {}
        for _ in range(_read(stream, "I")):
            name = _read_string(stream)
            rank = _read(stream, "B")
            dims = [_read(stream, "I") for _ in range(rank)]
            dtype_code = _read(stream, "B")
            if dtype_code not in _DTYPES:
                raise CheckpointFormatError(f"{name}: unknown dtype code {dtype_code}")
            raw = stream.read(_read(stream, "I"))
            tensor = torch.frombuffer(bytearray(raw), dtype=_DTYPES[dtype_code])
            variables[name] = tensor.reshape(dims)
        aliases = {}
        for _ in range(_read(stream, "I")):
            alias = _read_string(stream)
            aliases[alias] = _read_string(stream)
    if spec != WHISPER_SPEC:
        raise CheckpointFormatError(f"spec {spec!r} is not {WHISPER_SPEC!r}")
    return CTranslate2Model(spec=spec, revision=revision, variables=variables, aliases=aliases)


_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/(.+)$")

# Per-layer renames that map one tensor to one tensor.
_LAYER_RENAMES = {
    "self_attention/layer_norm/gamma": "attn_ln.weight",
    "self_attention/layer_norm/beta": "attn_ln.bias",
    "self_attention/linear_1/weight": "attn.out.weight",
    "self_attention/linear_1/bias": "attn.out.bias",
    "attention/layer_norm/gamma": "cross_attn_ln.weight",
    "attention/layer_norm/beta": "cross_attn_ln.bias",
    "attention/linear_0/weight": "cross_attn.query.weight",
    "attention/linear_0/bias": "cross_attn.query.bias",
    "attention/linear_2/weight": "cross_attn.out.weight",
    "attention/linear_2/bias": "cross_attn.out.bias",
    "ffn/layer_norm/gamma": "mlp_ln.weight",
    "ffn/layer_norm/beta": "mlp_ln.bias",
    "ffn/linear_0/weight": "mlp.0.weight",
    "ffn/linear_0/bias": "mlp.0.bias",
    "ffn/linear_1/weight": "mlp.2.weight",
    "ffn/linear_1/bias": "mlp.2.bias",
}

# Fused projections, split along rows in this order. ``None`` marks a slice that
# whisper does not have (the key bias), which must be zero.
_FUSED = {
    "self_attention/linear_0": ("attn.query", "attn.key", "attn.value"),
    "attention/linear_1": ("cross_attn.key", "cross_attn.value"),
}

_GLOBAL_RENAMES = {
    "encoder/conv1/weight": "encoder.conv1.weight",
    "encoder/conv1/bias": "encoder.conv1.bias",
    "encoder/conv2/weight": "encoder.conv2.weight",
    "encoder/conv2/bias": "encoder.conv2.bias",
    "encoder/position_encodings/encodings": "encoder.positional_embedding",
    "encoder/layer_norm/gamma": "encoder.ln_post.weight",
    "encoder/layer_norm/beta": "encoder.ln_post.bias",
    "decoder/position_encodings/encodings": "decoder.positional_embedding",
    "decoder/embeddings/weight": "decoder.token_embedding.weight",
    "decoder/layer_norm/gamma": "decoder.ln.weight",
    "decoder/layer_norm/beta": "decoder.ln.bias",
}

# Scalars and settings that carry no weights for whisper.
_IGNORED = {
    "decoder/activation",
    "decoder/alibi",
    "decoder/alignment_heads",
    "decoder/alignment_layer",
    "decoder/num_heads",
    "encoder/num_heads",
    "encoder/activation",
    "decoder/pre_norm",
    "decoder/scale_embeddings",
    "decoder/start_from_zero_embedding",
    "encoder/pre_norm",
    "encoder/scale_embeddings",
    "encoder/start_from_zero_embedding",
}


def _split_fused(prefix: str, fused: torch.Tensor, names: tuple[str, ...], kind: str) -> dict:
    parts = torch.chunk(fused, len(names), dim=0)
    out = {}
    for name, part in zip(names, parts, strict=True):
        if kind == "bias" and name.endswith(".key"):
            if torch.count_nonzero(part) != 0:
                raise CheckpointFormatError(f"{prefix}{name}: key bias is not zero")
            continue
        out[f"{prefix}{name}.{kind}"] = part.clone()
    return out


def to_whisper_state_dict(model: CTranslate2Model) -> dict[str, torch.Tensor]:
    """Map CTranslate2 variable names to openai-whisper's ``state_dict`` names."""
    state: dict[str, torch.Tensor] = {}
    unknown = []
    for name, tensor in model.variables.items():
        if name in _IGNORED:
            continue
        if name in _GLOBAL_RENAMES:
            state[_GLOBAL_RENAMES[name]] = tensor.clone()
            continue
        match = _LAYER.match(name)
        if not match:
            unknown.append(name)
            continue
        side, layer, rest = match.groups()
        prefix = f"{side}.blocks.{layer}."
        if rest in _LAYER_RENAMES:
            state[prefix + _LAYER_RENAMES[rest]] = tensor.clone()
            continue
        fused_name, _, kind = rest.rpartition("/")
        if fused_name in _FUSED and kind in ("weight", "bias"):
            state.update(_split_fused(prefix, tensor, _FUSED[fused_name], kind))
            continue
        unknown.append(name)
    if unknown:
        raise CheckpointFormatError(f"unmapped CTranslate2 variables: {sorted(unknown)[:5]}")
    return state


def _count_layers(state: dict[str, torch.Tensor], side: str) -> int:
    layers = {int(k.split(".")[2]) for k in state if k.startswith(f"{side}.blocks.")}
    return max(layers) + 1


def whisper_dims(model: CTranslate2Model, state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Model dimensions as openai-whisper's ``ModelDimensions`` fields, read from shapes."""
    conv1 = state["encoder.conv1.weight"]
    audio_pos = state["encoder.positional_embedding"]
    text_pos = state["decoder.positional_embedding"]
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(audio_pos.shape[0]),
        "n_audio_state": int(audio_pos.shape[1]),
        "n_audio_head": int(model.variables["encoder/num_heads"].item()),
        "n_audio_layer": _count_layers(state, "encoder"),
        "n_vocab": int(state["decoder.token_embedding.weight"].shape[0]),
        "n_text_ctx": int(text_pos.shape[0]),
        "n_text_state": int(text_pos.shape[1]),
        "n_text_head": int(model.variables["decoder/num_heads"].item()),
        "n_text_layer": _count_layers(state, "decoder"),
    }


def convert(
    model_bin: Path,
    alignment_heads: list[list[int]] | None = None,
    dtype: torch.dtype = torch.float16,
) -> dict:
    """Return an openai-whisper checkpoint dict (``dims``, ``model_state_dict``).

    ``alignment_heads`` (``[[layer, head], ...]`` from CTranslate2's config.json) is kept
    under its own key; openai-whisper's loader ignores it and the handler applies it.
    """
    model = read_model_bin(model_bin)
    state = to_whisper_state_dict(model)
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    checkpoint: dict = {"dims": whisper_dims(model, state), "model_state_dict": state}
    if alignment_heads:
        checkpoint["alignment_heads"] = [list(map(int, pair)) for pair in alignment_heads]
    return checkpoint
