"""Tests for avgen.video.dit: shapes at native sizes, adaLN-Zero init, conditioning, save/load,
learning on a toy batch, and sampling with avgen.diffusion."""

import pytest
import torch

from avgen.diffusion import flow_matching_loss, sample
from avgen.errors import AvgenError
from avgen.modules import apply_rope, rope_3d
from avgen.video.dit import VideoDiT, random_known_condition
from avgen.video.vae import VideoVAE

TINY = dict(latent_channels=4, hidden_size=32, num_layers=2, num_heads=2, text_dim=16)


def tiny_dit(seed: int = 0, randomise: bool = False, **kw) -> VideoDiT:
    """A tiny DiT; ``randomise`` replaces the zero init so every path affects the output."""
    torch.manual_seed(seed)
    model = VideoDiT(**{**TINY, **kw}).eval()
    if randomise:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.2)
    return model


def text_cond(b: int, length: int = 5, dim: int = 16, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "tokens": torch.randn(b, length, dim, generator=g),
        "mask": torch.ones(b, length, dtype=torch.bool),
        "pooled": torch.randn(b, dim, generator=g),
    }


@pytest.mark.parametrize(
    "shape,patch",
    [
        ((2, 4, 1, 8, 8), (1, 2, 2)),  # one latent frame (an image)
        ((1, 4, 3, 5, 7), (1, 2, 2)),  # odd sizes: padded to the patch, cropped back
        ((2, 4, 9, 16, 16), (1, 2, 2)),  # 33 frames of 64x64 through the 4x VAE
        ((1, 4, 3, 6, 4), (2, 2, 2)),  # temporal patches with an odd frame count
    ],
)
def test_output_shape_matches_input(shape, patch):
    model = tiny_dit(patch_size=patch, randomise=True)
    x = torch.randn(shape)
    with torch.no_grad():
        v = model(x, torch.full((shape[0],), 0.5), text_cond(shape[0]))
    assert v.shape == x.shape
    assert torch.isfinite(v).all()


def test_zero_output_at_init():
    model = tiny_dit()
    with torch.no_grad():
        v = model(torch.randn(2, 4, 3, 8, 8), torch.tensor([0.1, 0.9]), text_cond(2))
    assert torch.count_nonzero(v) == 0


def test_variable_token_lengths_in_one_model():
    model = tiny_dit(randomise=True)
    outs = []
    with torch.no_grad():
        for f, h, w in [(1, 4, 4), (5, 8, 12), (9, 16, 16), (2, 6, 2)]:
            x = torch.randn(1, 4, f, h, w)
            outs.append(model(x, torch.tensor([0.3]), text_cond(1)))
            assert outs[-1].shape == x.shape
        # no state carries over between sizes (RoPE angles are built per grid)
        x = torch.randn(1, 4, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        a = model(x, torch.tensor([0.3]), text_cond(1))
        b = model(x, torch.tensor([0.3]), text_cond(1))
    assert torch.equal(a, b)


def test_text_padding_is_ignored_and_text_matters():
    model = tiny_dit(randomise=True)
    x, t = torch.randn(1, 4, 2, 4, 4), torch.tensor([0.5])
    cond = text_cond(1, length=3)
    padded = {
        "tokens": torch.cat([cond["tokens"], torch.randn(1, 4, 16) * 5], dim=1),
        "mask": torch.tensor([[True] * 3 + [False] * 4]),
        "pooled": cond["pooled"],
    }
    with torch.no_grad():
        a, b = model(x, t, cond), model(x, t, padded)
        c = model(x, t, text_cond(1, length=3, seed=5))
        empty = model(x, t, {"tokens": cond["tokens"], "mask": torch.zeros(1, 3, dtype=torch.bool)})
        none = model(x, t, {})
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(a, c)
    assert torch.isfinite(empty).all()  # an all-padding row still attends to the null key
    torch.testing.assert_close(empty, none, rtol=1e-4, atol=1e-4)


def test_known_and_fps_conditioning():
    model = tiny_dit(randomise=True)
    x, t, cond = torch.randn(2, 4, 3, 4, 4), torch.tensor([0.5, 0.5]), text_cond(2)
    zeros = {"known": torch.zeros_like(x), "known_mask": torch.zeros(2, 1, 3, 4, 4)}
    known = random_known_condition(torch.randn_like(x), p_image=1.0, p_extend=0.0)
    assert known["known_mask"][:, :, 0].eq(1).all() and known["known_mask"][:, :, 1:].eq(0).all()
    with torch.no_grad():
        base = model(x, t, cond)
        torch.testing.assert_close(model(x, t, {**cond, **zeros}), base)
        assert not torch.allclose(model(x, t, {**cond, **known}), base)
        torch.testing.assert_close(model(x, t, {**cond, "fps": 8.0}), base)
        assert not torch.allclose(model(x, t, {**cond, "fps": torch.tensor([32.0, 2.0])}), base)
    with pytest.raises(AvgenError, match="known"):
        bad = {"known": torch.zeros(2, 4, 2, 4, 4), "known_mask": zeros["known_mask"]}
        model(x, t, {**cond, **bad})


def test_rope_keeps_norms_and_splits_axes():
    cos, sin = rope_3d((3, 4, 5), head_dim=16, theta=10000.0, device=torch.device("cpu"))
    assert cos.shape == (60, 8)
    q = torch.randn(1, 2, 60, 16)
    torch.testing.assert_close(apply_rope(q, cos, sin).norm(dim=-1), q.norm(dim=-1))
    # token 0 is (t, h, w) = (0, 0, 0): no rotation at all
    torch.testing.assert_close(apply_rope(q, cos, sin)[:, :, 0], q[:, :, 0])


def test_seeded_determinism():
    x, t, cond = torch.randn(1, 4, 2, 4, 4), torch.tensor([0.4]), text_cond(1)
    with torch.no_grad():
        a = tiny_dit(1, randomise=True)(x, t, cond)
        b = tiny_dit(1, randomise=True)(x, t, cond)
    assert torch.equal(a, b)
    sd1, sd2 = tiny_dit(1).state_dict(), tiny_dit(2).state_dict()
    assert torch.equal(sd1["patch_embed.weight"], tiny_dit(1).state_dict()["patch_embed.weight"])
    assert not torch.equal(sd1["patch_embed.weight"], sd2["patch_embed.weight"])


def test_save_load_round_trip_and_foreign_refused(tmp_path):
    model = tiny_dit(randomise=True, patch_size=(1, 1, 2), fps_conditioning=False)
    x, t, cond = torch.randn(1, 4, 2, 4, 4), torch.tensor([0.4]), text_cond(1)
    model.save_pretrained(tmp_path / "dit")
    loaded = VideoDiT.from_pretrained(tmp_path / "dit")
    assert loaded.patch_size == (1, 1, 2) and loaded.fps_embed is None
    with torch.no_grad():
        assert torch.equal(loaded(x, t, cond), model(x, t, cond))
    VideoVAE(latent_channels=4, hidden_channels=8, stem_channels=4).save_pretrained(tmp_path / "v")
    with pytest.raises(AvgenError, match="VideoVAE"):
        VideoDiT.from_pretrained(tmp_path / "v")


def test_defaults_fit_minilm_and_the_vae():
    from avgen.text import MINILM_DIM

    model = VideoDiT()
    assert model.text_dim == MINILM_DIM
    assert model.latent_channels == VideoVAE().latent_channels


def test_bad_inputs_raise():
    model = tiny_dit()
    with pytest.raises(AvgenError, match="latent"):
        model(torch.zeros(1, 3, 2, 4, 4), torch.zeros(1), {})
    with pytest.raises(AvgenError, match="tokens"):
        model(torch.zeros(1, 4, 2, 4, 4), torch.zeros(1), {"tokens": torch.zeros(1, 3, 8)})
    with pytest.raises(AvgenError, match="heads"):
        VideoDiT(hidden_size=30, num_heads=4)


def test_a_few_steps_reduce_the_flow_loss():
    model = tiny_dit().train()
    g = torch.Generator().manual_seed(0)
    x0 = torch.zeros(4, 4, 3, 8, 8)
    x0[:, :2, :, 2:6, 2:6] = 1.0  # a "square" in two channels
    cond = text_cond(4)

    def eval_loss() -> float:
        with torch.no_grad():
            return flow_matching_loss(model, x0, cond, torch.Generator().manual_seed(99)).item()

    before = eval_loss()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    for _ in range(30):
        loss = flow_matching_loss(model, x0, cond, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert eval_loss() < 0.7 * before


def test_sampling_with_the_flow_sampler():
    """avgen.diffusion.sample drives the DiT: CFG in one batch, inpainting keeps the known frame."""
    model = tiny_dit(randomise=True)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.1)  # keep the random velocity field tame
    cond, uncond = text_cond(2), text_cond(1, length=2, seed=3)
    shape = (2, 4, 3, 4, 4)
    known = torch.randn(shape)
    keep = torch.zeros(2, 1, 3, 4, 4)
    keep[:, :, 0] = 1.0
    cond_known = {**cond, "known": known * keep, "known_mask": keep}

    def run(seed: int) -> torch.Tensor:
        return sample(
            model,
            shape,
            cond_known,
            uncond,
            num_inference_steps=4,
            guidance_scale=3.0,
            generator=torch.Generator().manual_seed(seed),
            inpaint=(known, keep),
        )

    a, b, c = run(0), run(0), run(1)
    assert a.shape == shape and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.allclose(a, c)
    torch.testing.assert_close(a[:, :, 0], known[:, :, 0])
