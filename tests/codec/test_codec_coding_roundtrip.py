"""The learned codec: bit-exact round trips, thread independence, escapes and clean failures."""

import dataclasses
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from mc_codec.coding.api import decode, encode, encode_with_stats, load_model
from mc_core.checkpoint import save_checkpoint
from mc_core.errors import BadInputError
from mc_core.factory import create_model


def _tiny(tmp_path, arch="rle-lm", vocab=6, seed=0, use_2d=True, name="ck"):
    torch.manual_seed(seed)
    args = {"embed_dim": 8, "hidden_dim": 8} if arch == "rle-lm" else {
        "timesteps": 3, "vocab_dim": 4, "hidden_dim": 8, "ffn_dim": 8, "layers": 1}
    m = create_model(arch, {"vocab_size": vocab, "use_2d": use_2d, **args}, task="codec")
    path = tmp_path / name
    save_checkpoint(path, m.state_dict(), model=arch, config={"model": m.config})
    return load_model(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    return {"rle-lm": _tiny(tmp), "msdzip": _tiny(tmp, "msdzip", name="ms"),
            "flat": _tiny(tmp, use_2d=False, name="flat")}


masks = st.tuples(st.integers(1, 9), st.integers(1, 23), st.integers(1, 6)).flatmap(
    lambda t: arrays(np.uint8, (t[0], t[1]), elements=st.integers(0, t[2] - 1)))


@settings(max_examples=12, deadline=None)
@given(masks, st.sampled_from(["rle-lm", "msdzip", "flat"]), st.sampled_from([1, 2, 64]))
def test_roundtrip_random_masks(models, mask, arch, band):
    data = encode(mask, models[arch], band_height=band)
    out = decode(data, models[arch])
    assert out.dtype == mask.dtype and np.array_equal(out, mask)


def test_coded_size_close_to_ideal(models):
    rng = np.random.default_rng(0)
    mask = np.repeat(np.repeat(rng.integers(0, 6, (8, 10)), 6, 0), 7, 1).astype(np.uint8)
    data, bits = encode_with_stats(mask, models["rle-lm"])
    from mc_codec.container import unpack

    _, payload = unpack(data)
    assert len(payload) * 8 <= bits * 1.05 + 64


def test_same_bytes_across_thread_counts(models):
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 4, (30, 40)).astype(np.uint8)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = encode(mask, models["msdzip"])
        torch.set_num_threads(1)
        b = encode(mask, models["msdzip"])
        assert a == b
        torch.set_num_threads(2)
        assert np.array_equal(decode(b, models["msdzip"]), mask)
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before


def test_escape_path_for_ids_beyond_vocabulary(models):
    mask = np.array([[300, 300, 7], [7, 65000, 65000]], np.uint16)  # 3 ids <= vocab 6, but ids > 6
    assert np.array_equal(decode(encode(mask, models["rle-lm"]), models["rle-lm"]), mask)
    too_many = np.arange(20, dtype=np.uint8).reshape(4, 5) + 10
    with pytest.raises(BadInputError, match="more than the model's vocabulary"):
        encode(too_many, models["rle-lm"])


def test_wrong_model_truncated_and_corrupt_are_clean_errors(models):
    mask = np.random.default_rng(2).integers(0, 3, (12, 15)).astype(np.uint8)
    data = encode(mask, models["rle-lm"])
    with pytest.raises(BadInputError, match="model"):
        decode(data, models["msdzip"])
    with pytest.raises(BadInputError):
        decode(data[:-9], models["rle-lm"])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x5A
    with pytest.raises(BadInputError):
        decode(bytes(bad), models["rle-lm"])


def test_corrupt_payload_with_valid_file_crc_never_returns_wrong_mask(models):
    """Re-pack a mutated payload (so the container CRC is right): the decoder must still refuse."""
    from mc_codec.container import pack, unpack

    mask = np.random.default_rng(3).integers(0, 4, (10, 13)).astype(np.uint8)
    header, payload = unpack(encode(mask, models["rle-lm"]))
    rng = np.random.default_rng(4)
    for _ in range(30):
        p = bytearray(payload)
        i = int(rng.integers(7, len(p)))
        p[i] ^= int(rng.integers(1, 256))
        try:
            out = decode(pack(header, bytes(p)), models["rle-lm"])
        except BadInputError:
            continue
        assert np.array_equal(out, mask)


def _write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _mc(*args):
    """Run `mc codec ...` in-process (as the `mc` script does)."""
    from mc_core.testing import invoke

    return invoke("codec", *args)


def test_cli_compress_decompress_folder_and_errors(models, tmp_path):
    rng = np.random.default_rng(5)
    for i in range(2):
        _write_png(tmp_path / "in" / f"sub/m{i}.png", rng.integers(0, 5, (9, 11)).astype(np.uint8))
    ck = str(models["rle-lm"].path)
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "-q")
    assert r.returncode == 0, r.stderr
    r = _mc("decompress", str(tmp_path / "z"), str(tmp_path / "out"), "--checkpoint", ck, "-q")
    assert r.returncode == 0, r.stderr
    for i in range(2):
        a = np.array(Image.open(tmp_path / "in" / f"sub/m{i}.png"))
        b = np.array(Image.open(tmp_path / "out" / f"sub/m{i}.png"))
        assert np.array_equal(a, b)
    # an RGB image where a mask is expected
    Image.fromarray(rng.integers(0, 255, (4, 4, 3)).astype(np.uint8)).save(tmp_path / "rgb.png")
    r = _mc("compress", str(tmp_path / "rgb.png"), str(tmp_path / "rgb.mcz"), "--checkpoint", ck)
    assert r.returncode == 2 and "rgb.png" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "rgb.mcz").exists()
    # a truncated file
    z = next((tmp_path / "z").rglob("*.mcz"))
    (tmp_path / "cut.mcz").write_bytes(z.read_bytes()[:20])
    r = _mc("decompress", str(tmp_path / "cut.mcz"), str(tmp_path / "cut.png"), "--checkpoint", ck)
    assert r.returncode == 2 and "cut.mcz" in r.stderr and not (tmp_path / "cut.png").exists()
    # a checkpoint that is not a codec model
    save_checkpoint(tmp_path / "other", {"w": torch.zeros(2)}, model="unet", config={})
    r = _mc("compress", str(tmp_path / "rgb.png"), str(tmp_path / "x.mcz"), "--checkpoint",
            str(tmp_path / "other"))
    assert r.returncode == 2 and "other" in r.stderr


def test_integer_stepper_tracks_the_model(tmp_path):
    """The fixed-point stepper the coder uses computes (nearly) the torch model's outputs."""
    from mc_codec.coding.stepper import ACT_BITS, IntRleStepper, make_stepper, quantize
    from mc_codec.tokens import NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS

    cm = _tiny(tmp_path, vocab=7, seed=3)
    model, st = cm.model, IntRleStepper(cm.model)
    one = float(1 << ACT_BITS)
    rng = np.random.default_rng(0)
    k = 9
    feats = np.stack([rng.integers(-1, 7, k), rng.integers(-1, NUM_LEN_SYMBOLS, k),
                      rng.integers(-1, 7, k), rng.integers(-1, 7, k),
                      rng.integers(0, NUM_DIST_BUCKETS, k), rng.integers(0, 2, k),
                      rng.integers(0, 2, k), rng.integers(0, 2, k),
                      rng.integers(0, NUM_DIST_BUCKETS, k)], axis=1).astype(np.int64)
    state = np.round(rng.uniform(-1, 1, size=(k, 8)) * one)   # a state on the fixed-point grid
    cls = rng.integers(0, 7, k).astype(np.int64)
    cls[:3] = feats[:3, 2].clip(0)  # some runs equal the class above
    with torch.no_grad():
        ft = torch.from_numpy(feats)
        ctx_t, h_t = model.step_context(torch.from_numpy(state / one).float(), ft)
        cl_t = model.heads.class_logits(ctx_t).numpy()
        ll_t = model.heads.length_logits(ctx_t, torch.from_numpy(cls), ft).numpy()
    ctx, h = st.context(state, feats)
    assert np.array_equal(h, np.round(h)) and np.array_equal(ctx, np.round(ctx))  # integers
    np.testing.assert_allclose(h / one, h_t.numpy(), atol=3e-3)
    np.testing.assert_allclose(ctx / one, ctx_t.numpy(), atol=3e-3)
    np.testing.assert_allclose(st._hc[:, :7] / one, cl_t, atol=3e-3)
    f_int, f_float = st.length_freqs(ctx, cls), quantize(ll_t)
    assert f_int.sum(axis=1).max() <= 1 << 16 and f_int.min() >= 1
    p_int, p_float = f_int / f_int.sum(1, keepdims=True), f_float / f_float.sum(1, keepdims=True)
    assert np.abs(p_int - p_float).max() < 5e-3
    # the cached stepper is rebuilt when the weights change
    s1 = make_stepper(model)
    assert make_stepper(model) is s1
    with torch.no_grad():
        model.heads.cls_head.bias.add_(1.0)
    assert make_stepper(model) is not s1


def test_integer_msdzip_stepper_tracks_the_model():
    from mc_codec.coding.stepper import ACT_BITS, IntMsdzipStepper, make_stepper
    from mc_codec.tokens import NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS

    torch.manual_seed(0)
    m = create_model("msdzip", {"vocab_size": 7, "use_2d": True, "timesteps": 3, "vocab_dim": 4,
                               "hidden_dim": 16, "ffn_dim": 32, "layers": 2}).eval()
    st = IntMsdzipStepper(m)
    assert isinstance(make_stepper(m), IntMsdzipStepper)
    rng, k, one = np.random.default_rng(0), 5, float(1 << ACT_BITS)
    feats = np.stack([rng.integers(-1, 7, k), rng.integers(-1, NUM_LEN_SYMBOLS, k),
                      rng.integers(-1, 7, k), rng.integers(-1, 7, k),
                      rng.integers(0, NUM_DIST_BUCKETS, k), rng.integers(0, 2, k),
                      rng.integers(0, 2, k), rng.integers(0, 2, k),
                      rng.integers(0, NUM_DIST_BUCKETS, k)], axis=1).astype(np.int64)
    state = np.round(rng.normal(size=(k, 3, 4)) * one)
    with torch.no_grad():
        ctx_t, win_t = m.step_context(torch.from_numpy(state / one).float(), torch.from_numpy(feats))
        cl_t = m.heads.class_logits(ctx_t).numpy()
    ctx, win = st.context(state, feats)
    np.testing.assert_allclose(win / one, win_t.numpy(), atol=2e-3)
    np.testing.assert_allclose(ctx / one, ctx_t.numpy(), atol=3e-3)
    np.testing.assert_allclose(st._hc[:, :7] / one, cl_t, atol=3e-3)


def test_fixed_point_tables_are_platform_independent():
    """Every table entry is far from a rounding boundary (so any libm rounds it the same way),
    and the tables are the ones this package was released with."""
    import hashlib

    from mc_codec.coding.stepper import lookup_tables

    luts = lookup_tables()
    digest = hashlib.sha256(b"".join(luts[k].astype("<i8").tobytes()
                                     for k in ("sigmoid", "tanh", "gelu", "exp"))).hexdigest()
    assert digest == LUT_SHA256
    assert luts["sigmoid"][0] == 0 and luts["sigmoid"][-1] == 4096 and luts["exp"][0] == 1 << 24


LUT_SHA256 = "d76aa36b6a0982002d13faa37999d52f3410d3fbd0baa3ba038082200e58c88a"


@pytest.mark.parametrize("arch,args", [
    ("rle-lm", {"embed_dim": 16, "hidden_dim": 32}),
    ("msdzip", {"timesteps": 4, "vocab_dim": 8, "hidden_dim": 32, "ffn_dim": 64, "layers": 2})])
def test_bytes_do_not_depend_on_the_order_of_matmul_sums(tmp_path, monkeypatch, arch, args):
    """What a different BLAS, CPU or thread count changes is the order of the sums inside a matmul;
    the integer steppers' results (and so the file) must not depend on it."""
    from mc_codec.coding import stepper

    torch.manual_seed(1)
    m = create_model(arch, {"vocab_size": 6, "use_2d": True, **args}, task="codec")
    save_checkpoint(tmp_path / "ck", m.state_dict(), model=arch, config={"model": m.config})
    cm = load_model(tmp_path / "ck")
    mask = np.repeat(np.random.default_rng(8).integers(0, 6, (12, 9)), 4, axis=1).astype(np.uint8)
    ref = encode(mask, cm, band_height=3)

    def reversed_order_mm(a, w, b):
        acc = np.zeros((a.shape[0], w.shape[1]))
        for j in reversed(range(a.shape[1])):        # one term at a time, last term first
            acc += a[:, j:j + 1] * w[j]
        return np.floor((acc + b) / (1 << stepper.W_BITS))

    monkeypatch.setattr(stepper._IntStepper, "_mm", staticmethod(reversed_order_mm))
    cm.model.__dict__.pop("_mc_stepper", None)
    assert encode(mask, cm, band_height=3) == ref
    assert np.array_equal(decode(ref, cm), mask)


_ENCODE_SCRIPT = """
import hashlib, sys
import dataclasses

import numpy as np
from mc_codec import encode
from mc_codec.samples import generate_street_like
m = np.asarray(generate_street_like(seed=5, height=96, width=200)).astype(np.uint8)
print(hashlib.sha256(encode(m, band_height=8)).hexdigest())
"""


def test_same_bytes_across_blas_and_torch_thread_counts():
    """The shipped model's files are identical whatever BLAS/OpenMP/torch thread count is set."""
    import os
    import subprocess
    import sys

    digests = set()
    for n in ("1", "2", "4"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}
        out = subprocess.run([sys.executable, "-c", _ENCODE_SCRIPT], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1, digests


def test_version_1_learned_files_still_decode(models):
    """Files written by the first release (container and payload version 1) decode exactly."""
    import struct

    from mc_codec import container as mcz

    mask = np.random.default_rng(6).integers(0, 5, (14, 19)).astype(np.uint8)
    data = encode(mask, models["rle-lm"], band_height=4)
    header, payload = mcz.unpack(data)
    assert header.version == 2 and payload[0] == 4          # varint band height, then the words
    words = payload[1:]
    v1_payload = struct.pack("<BHI", 1, 4, len(words) // 4) + words
    v1_header = dataclasses.replace(header, model_digest=models["rle-lm"].digest[:16])
    old = mcz.pack_v1(v1_header, v1_payload)
    assert np.array_equal(decode(old, models["rle-lm"]), mask)
    with pytest.raises(BadInputError, match="model"):
        decode(old, models["msdzip"])


def test_learned_file_overhead_is_small(models):
    mask = np.repeat(np.repeat(np.random.default_rng(7).integers(0, 6, (6, 8)), 5, 0), 9, 1)
    data, bits = encode_with_stats(mask.astype(np.uint8), models["rle-lm"])
    # header (26 bytes with 6 classes) + band-height varint + <= 2 words of coder flush
    assert len(data) * 8 <= bits + 8 * (26 + 1 + 8)


def test_cli_info_shows_the_header_without_decoding(models, tmp_path):
    import json

    mask = np.array([[3, 3, 5], [5, 5, 3]], np.uint8)
    (tmp_path / "m.mcz").write_bytes(encode(mask, models["rle-lm"]))
    r = _mc("info", str(tmp_path / "m.mcz"))
    assert r.returncode == 0, r.stderr
    assert ".mcz v2, 2x3 uint8, kind learned, 2 classes [3, 5]" in r.stdout
    r = _mc("info", str(tmp_path / "m.mcz"), "--json")
    rec = json.loads(r.stdout)
    assert rec["classes"] == [3, 5] and rec["model_digest"] == models["rle-lm"].digest[:8].hex()
    assert rec["file_bytes"] == (tmp_path / "m.mcz").stat().st_size > rec["payload_bytes"]
    (tmp_path / "bad.mcz").write_bytes((tmp_path / "m.mcz").read_bytes()[:-3])
    r = _mc("info", str(tmp_path / "bad.mcz"))
    assert r.returncode == 2 and "bad.mcz" in r.stderr and "truncated or corrupt" in r.stderr


def test_cli_compress_band_height_and_folder_resume(models, tmp_path):
    from mc_codec import container as mcz
    from mc_codec.cli_coding import compress_cmd
    from mc_codec.tokens import DEFAULT_BAND_HEIGHT

    assert next(p.default for p in compress_cmd.params if p.name == "band_height") == DEFAULT_BAND_HEIGHT
    rng = np.random.default_rng(9)
    for i in range(2):
        _write_png(tmp_path / "in" / f"m{i}.png", rng.integers(0, 5, (20, 11)).astype(np.uint8))
    ck = str(models["rle-lm"].path)
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "--band-height", "4")
    assert r.returncode == 0, r.stderr
    _, payload = mcz.unpack((tmp_path / "z" / "m0.mcz").read_bytes())
    assert payload[0] == 4                                   # the band height the file was coded with
    first = (tmp_path / "z" / "m1.mcz").stat().st_mtime_ns
    (tmp_path / "z" / "m0.mcz").unlink()                     # as if interrupted after m1
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "--band-height", "4")
    assert r.returncode == 0 and "1 already up to date" in r.stderr
    assert (tmp_path / "z" / "m1.mcz").stat().st_mtime_ns == first and (tmp_path / "z" / "m0.mcz").is_file()
    # another band height (or model) is not "up to date": those outputs are redone
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck)
    assert r.returncode == 0 and "already up to date" not in r.stderr
    assert mcz.unpack((tmp_path / "z" / "m1.mcz").read_bytes())[1][0] == 64
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "--overwrite")
    assert r.returncode == 0 and "already up to date" not in r.stderr
    r = _mc("decompress", str(tmp_path / "z"), str(tmp_path / "out"), "--checkpoint", ck, "-q")
    for i in range(2):
        assert np.array_equal(np.array(Image.open(tmp_path / "out" / f"m{i}.png")),
                              np.array(Image.open(tmp_path / "in" / f"m{i}.png")))


def test_cli_compress_folder_in_worker_processes_reports_a_bad_file(models, tmp_path):
    rng = np.random.default_rng(10)
    for i in range(3):
        _write_png(tmp_path / "in" / f"m{i}.png", rng.integers(0, 5, (8, 9)).astype(np.uint8))
    Image.fromarray(rng.integers(0, 255, (4, 4, 3)).astype(np.uint8)).save(tmp_path / "in" / "rgb.png")
    ck = str(models["rle-lm"].path)
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "--jobs", "2", "-q")
    assert r.returncode == 2 and "rgb.png" in r.stderr and "RGB" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "in" / "rgb.png").unlink()
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", ck, "--jobs", "2", "-q")
    assert r.returncode == 0, r.stderr
    r = _mc("decompress", str(tmp_path / "z"), str(tmp_path / "out"), "--checkpoint", ck, "-j", "2", "-q")
    assert r.returncode == 0, r.stderr
    for i in range(3):
        assert np.array_equal(np.array(Image.open(tmp_path / "out" / f"m{i}.png")),
                              np.array(Image.open(tmp_path / "in" / f"m{i}.png")))


def test_compress_redoes_outputs_of_another_model(models, tmp_path):
    rng = np.random.default_rng(11)
    _write_png(tmp_path / "in" / "m0.png", rng.integers(0, 5, (12, 10)).astype(np.uint8))
    a, b = str(models["rle-lm"].path), str(models["msdzip"].path)
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", a, "-j", "1")
    assert r.returncode == 0, r.stderr
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", b, "-j", "1")
    assert r.returncode == 0 and "already up to date" not in r.stderr       # other model: redone
    r = _mc("decompress", str(tmp_path / "z" / "m0.mcz"), str(tmp_path / "m0.png"), "--checkpoint", b)
    assert r.returncode == 0, r.stderr
    r = _mc("compress", str(tmp_path / "in"), str(tmp_path / "z"), "--checkpoint", b, "-j", "1")
    assert r.returncode == 0 and "1 already up to date" in r.stderr


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    from pathlib import Path

    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_compress_leaves_no_workers(models, tmp_path):
    import os
    import signal
    import subprocess
    import time

    from mc_codec.samples import generate_street_like

    for i in range(40):
        _write_png(tmp_path / "in" / f"m{i}.png",
                   np.asarray(generate_street_like(seed=i, height=120, width=160)).astype(np.uint8))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MC_")}
    proc = subprocess.Popen([sys.executable, "-m", "mc_core", "codec", "compress", str(tmp_path / "in"),
                             str(tmp_path / "z"), "--jobs", "2", "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers = [c for c in _children(proc.pid) if _alive(c)]
            time.sleep(0.05)
        assert len(workers) == 2, "the workers did not start"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
