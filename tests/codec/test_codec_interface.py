"""The CodecModel Protocol: the built-in models implement it, checkpoints of both config layouts
load through the registry, and token_nats is the ideal code length the coder approaches."""

import numpy as np
import pytest
import torch

from mc_codec.interface import CodecModel, CodecStepper
from mc_core.checkpoint import save_checkpoint
from mc_core.factory import create_model, missing_members

ARGS = {"rle-lm": {"embed_dim": 4, "hidden_dim": 8},
        "msdzip": {"timesteps": 3, "vocab_dim": 4, "hidden_dim": 8, "ffn_dim": 8, "layers": 1}}


@pytest.mark.parametrize("arch", sorted(ARGS))
def test_builtin_models_implement_the_protocol(arch):
    m = create_model(arch, {"vocab_size": 5, "use_2d": True, **ARGS[arch]}, task="codec", protocol=CodecModel)
    assert isinstance(m, CodecModel) and missing_members(m, CodecModel) == []
    assert isinstance(m.coding_stepper(), CodecStepper)


@pytest.mark.parametrize("layout", ["nested", "first-release"])
def test_checkpoints_of_both_config_layouts_load(tmp_path, layout):
    from mc_codec.coding.api import decode, encode, load_model

    torch.manual_seed(0)
    m = create_model("rle-lm", {"vocab_size": 5, "use_2d": True, **ARGS["rle-lm"]}, task="codec")
    config = {"model": m.config, "train": {"epochs": 1}} if layout == "nested" else dict(m.config)
    save_checkpoint(tmp_path / "ck", m.state_dict(), model="rle-lm", config=config)
    cm = load_model(tmp_path / "ck")
    assert cm.vocab_size == 5 and cm.use_2d
    mask = np.random.default_rng(0).integers(0, 5, (9, 7)).astype(np.uint8)
    assert np.array_equal(decode(encode(mask, cm), cm), mask)


def test_token_nats_is_the_ideal_code_length(tmp_path):
    from mc_codec.coding.api import encode_with_stats, load_model
    from mc_codec.evaluate import image_bits
    from mc_codec.rows import image_tokens

    torch.manual_seed(1)
    m = create_model("rle-lm", {"vocab_size": 4, "use_2d": True, **ARGS["rle-lm"]}, task="codec")
    save_checkpoint(tmp_path / "ck", m.state_dict(), model="rle-lm", config={"model": m.config})
    cm = load_model(tmp_path / "ck")
    mask = np.repeat(np.random.default_rng(2).integers(0, 4, (6, 5)), 4, axis=1).astype(np.uint8)
    ideal = image_bits(cm.model, image_tokens(mask, True))["bits"]
    _, coded_ideal = encode_with_stats(mask, cm)       # the integer stepper's ideal bits
    assert coded_ideal == pytest.approx(ideal, rel=2e-3)
