"""Tests for avgen.video.vae: shapes, causality, image/extension encoding, save/load, training."""

import dataclasses

import pytest
import torch

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.video.vae import VideoVAE, depth_to_space, kl_divergence, space_to_depth

TINY = dict(latent_channels=4, hidden_channels=16, stem_channels=8)


def tiny_vae(seed: int = 0, **kw) -> VideoVAE:
    torch.manual_seed(seed)
    return VideoVAE(**{**TINY, **kw}).eval()


def clip(b: int, f: int, h: int, w: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, f, h, w, generator=g) * 2 - 1


def test_space_depth_round_trip():
    x = torch.randn(2, 3, 4, 8, 12)
    assert space_to_depth(x).shape == (2, 12, 4, 4, 6)
    assert torch.equal(depth_to_space(space_to_depth(x)), x)


@pytest.mark.parametrize(
    "frames,h,w,latent_frames",
    [(1, 32, 32, 1), (5, 32, 32, 2), (9, 16, 48, 3), (7, 32, 16, 3), (33, 64, 64, 9)],
)
def test_shapes_any_size_and_frame_count(frames, h, w, latent_frames):
    vae = tiny_vae()
    x = clip(1, frames, h, w)
    with torch.no_grad():
        mean, logvar = vae.encode(x)
        assert mean.shape == logvar.shape == (1, 4, latent_frames, h // 4, w // 4)
        assert vae.latent_frames(frames) == latent_frames
        full = vae.decode(mean)
        assert full.shape == (1, 3, vae.video_frames(latent_frames), h, w)
        recon, _, _ = vae(x, sample=False)
    assert recon.shape == x.shape  # padded to 1 + 4k, cropped back


def test_spatial_factor_8_and_image_input():
    vae = tiny_vae(spatial_factor=8)
    with torch.no_grad():
        z = vae.encode_frames(clip(2, 9, 64, 32)[:, :, 0])  # an image (B, 3, H, W)
        assert z.shape == (2, 4, 1, 8, 4)
        assert vae.decode_latents(z).shape == (2, 3, 1, 64, 32)


def test_encoder_is_causal():
    vae = tiny_vae()
    x = clip(1, 13, 32, 32)
    y = x.clone()
    y[:, :, 6] = -x[:, :, 6]  # frame 6 only reaches latent frames j with 4j >= 6
    with torch.no_grad():
        mx, _ = vae.encode(x)
        my, _ = vae.encode(y)
    assert torch.equal(mx[:, :, :2], my[:, :, :2])
    assert not torch.allclose(mx[:, :, 2], my[:, :, 2])


def test_decoder_is_causal():
    vae = tiny_vae()
    z = torch.randn(1, 4, 4, 8, 8)
    z2 = z.clone()
    z2[:, :, 2] += 1.0  # latent frame 2 decodes to frames 5..8
    with torch.no_grad():
        a, b = vae.decode(z), vae.decode(z2)
    assert torch.equal(a[:, :, :5], b[:, :, :5])
    assert not torch.allclose(a[:, :, 5:9], b[:, :, 5:9])


def test_image_and_extension_encode_like_the_clip():
    """An init image = the clip's first latent frame; a clip's tail encodes on its own."""
    vae = tiny_vae()
    x = clip(2, 9, 32, 32)
    with torch.no_grad():
        z_clip = vae.encode_frames(x)
        z_img = vae.encode_frames(x[:, :, 0])
        z_tail = vae.encode_frames(x[:, :, 4:])  # frames 4..8: 1 + 4 frames -> 2 latents
    torch.testing.assert_close(z_img, z_clip[:, :, :1], rtol=1e-5, atol=1e-5)
    assert z_tail.shape == (2, 4, 2, 8, 8)


def test_seeded_determinism_and_sampling():
    x = clip(1, 5, 32, 32)
    a, b = tiny_vae(3), tiny_vae(3)
    with torch.no_grad():
        za = a.encode_frames(x, sample=True, generator=torch.Generator().manual_seed(7))
        zb = b.encode_frames(x, sample=True, generator=torch.Generator().manual_seed(7))
        zm = a.encode_frames(x)
    assert torch.equal(za, zb)
    assert not torch.equal(za, zm)
    assert not torch.equal(tiny_vae(4).encode_frames(x), zm)


def test_save_load_round_trip_keeps_scaling(tmp_path):
    vae = tiny_vae()
    x = clip(1, 5, 32, 32)
    with torch.no_grad():
        factor = vae.fit_scaling_factor(vae.encode(x)[0])
        z = vae.encode_frames(x)
        out = vae.decode_latents(z)
    vae.save_pretrained(tmp_path / "vae")
    loaded = VideoVAE.from_pretrained(tmp_path / "vae")
    assert loaded.scaling_factor == pytest.approx(factor)
    with torch.no_grad():
        assert torch.equal(loaded.encode_frames(x), z)
        assert torch.equal(loaded.decode_latents(z), out)


def test_foreign_checkpoint_refused(tmp_path):
    @dataclasses.dataclass
    class OtherConfig(ModelConfig):
        model_name = "Other"
        width: int = 2

    class Other(PretrainedModel):
        config_class = OtherConfig

        def __init__(self, config: OtherConfig | None = None, **kwargs) -> None:
            super().__init__()
            width = self.register_config(config, kwargs).width
            self.lin = torch.nn.Linear(width, width)

    Other().save_pretrained(tmp_path / "other")
    with pytest.raises(AvgenError):
        VideoVAE.from_pretrained(tmp_path / "other")
    with pytest.raises(AvgenError):
        VideoVAE.from_pretrained(tmp_path / "missing")


def test_bad_inputs_raise():
    vae = tiny_vae()
    with pytest.raises(AvgenError, match="divisible"):
        vae.encode(clip(1, 5, 30, 32))
    with pytest.raises(AvgenError, match="not"):
        vae.encode(torch.zeros(1, 1, 5, 32, 32))
    with pytest.raises(AvgenError, match="latent"):
        vae.decode(torch.zeros(1, 3, 2, 8, 8))
    with pytest.raises(AvgenError, match="num_frames"):
        vae.decode(torch.zeros(1, 4, 2, 8, 8), num_frames=9)
    with pytest.raises(AvgenError, match="spatial_factor"):
        VideoVAE(spatial_factor=3)


def test_kl_is_zero_for_standard_normal_posterior():
    z = torch.zeros(2, 4, 3, 4, 4)
    assert kl_divergence(z, z).item() == 0.0
    assert kl_divergence(z + 1, z).item() == pytest.approx(0.5)


def test_training_reduces_loss():
    vae = tiny_vae().train()
    # a static coloured square over a dark background
    x = torch.full((2, 3, 5, 32, 32), -0.8)
    x[:, 0, :, 8:20, 10:22] = 0.9
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    first = None
    for step in range(25):
        out = vae.training_loss(x, generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = out["recon"].item() if first is None else first
    assert out["recon"].item() < 0.6 * first
