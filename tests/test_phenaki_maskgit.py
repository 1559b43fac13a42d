"""Tests for avgen.video.maskgit: shapes, conditioning paths, save/load, the masked-token loss
learning a toy batch, and iterative decoding (prime tokens kept, no mask ids, seeded)."""

import math

import pytest
import torch

from avgen.errors import AvgenError
from avgen.video.maskgit import MaskGIT, mask_schedule, maskgit_generate, maskgit_loss

TINY = dict(codebook_size=16, max_t=3, h=4, w=4, hidden_size=32, num_layers=2, num_heads=2)
TINY["text_dim"] = 12


def tiny(seed: int = 0, randomise: bool = False, **kw) -> MaskGIT:
    torch.manual_seed(seed)
    model = MaskGIT(**{**TINY, **kw}).eval()
    if randomise:  # replace the zero inits so every input path reaches the output
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p) * 0.2)
    return model


def text(b: int, length: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, length, 12, generator=g), torch.ones(b, length, dtype=torch.bool)


@pytest.mark.parametrize("adaln", [False, True])
def test_forward_shapes_and_any_smaller_grid(adaln: bool) -> None:
    model = tiny(adaln=adaln)
    states, mask = text(2)
    for grid in [(3, 4, 4), (1, 4, 4), (2, 3, 2)]:
        tokens = torch.randint(0, 17, (2, *grid))
        logits = model(tokens, states, mask)
        assert logits.shape == (2, *grid, 16)
        assert torch.isfinite(logits).all()
    assert model.mask_id == 16


def test_bad_inputs_raise_one_sentence() -> None:
    model = tiny()
    states, mask = text(1)
    with pytest.raises(AvgenError, match="larger than"):
        model(torch.zeros(1, 4, 4, 4, dtype=torch.long), states, mask)
    with pytest.raises(AvgenError, match="token ids"):
        model(torch.full((1, 1, 4, 4), 17), states, mask)
    with pytest.raises(AvgenError, match="text states"):
        model(torch.zeros(1, 1, 4, 4, dtype=torch.long), torch.zeros(1, 3, 5), None)
    with pytest.raises(AvgenError, match="heads"):
        MaskGIT(**{**TINY, "hidden_size": 30, "num_heads": 4})


@pytest.mark.parametrize("adaln", [False, True])
def test_conditioning_paths_change_the_logits(adaln: bool) -> None:
    model = tiny(randomise=True, layout_dim=3, adaln=adaln)
    tokens = torch.randint(0, 17, (1, 2, 4, 4))
    states, mask = text(1)
    base = model(tokens, states, mask, fps=8.0)
    other_text, _ = text(1, seed=1)
    assert not torch.allclose(base, model(tokens, other_text, mask, fps=8.0))
    assert not torch.allclose(base, model(tokens, states, mask, fps=32.0))
    layout = torch.randn(1, 3, 2, 4, 4)
    assert not torch.allclose(base, model(tokens, states, mask, layout=layout, fps=8.0))
    # no layout is the all-zero layout; no text (all padding) is well defined
    zero = torch.zeros(1, 3, 2, 4, 4)
    torch.testing.assert_close(base, model(tokens, states, mask, layout=zero, fps=8.0))
    empty = model(tokens, torch.zeros(1, 5, 12), torch.zeros(1, 5, dtype=torch.bool))
    assert torch.isfinite(empty).all()
    torch.testing.assert_close(empty, model(tokens, None, None))
    with pytest.raises(AvgenError, match="layout"):
        model(tokens, states, mask, layout=torch.zeros(1, 3, 3, 4, 4))


@pytest.mark.parametrize("adaln", [False, True])
def test_zero_init_layout_and_bidirectional_attention(adaln: bool) -> None:
    model = tiny(layout_dim=3, adaln=adaln)
    tokens = torch.randint(0, 16, (1, 3, 4, 4))
    states, mask = text(1)
    with torch.no_grad():  # open the blocks (adaLN gates / residual outputs start at zero)
        for block in model.blocks:
            (block.ada.bias if adaln else block.attn.out.weight).normal_(0, 0.5)
    a = model(tokens, states, mask)
    # the layout MLP's output layer starts at zero: a plan changes nothing yet
    torch.testing.assert_close(a, model(tokens, states, mask, torch.randn(1, 3, 3, 4, 4)))
    # bidirectional: changing the last time step changes the first step's logits
    later = tokens.clone()
    later[:, -1] = (later[:, -1] + 1) % 16
    assert not torch.allclose(a[:, 0], model(later, states, mask)[:, 0])


def test_save_and_load_roundtrip(tmp_path) -> None:
    model = tiny(randomise=True, layout_dim=2)
    model.save_pretrained(tmp_path / "m")
    back = MaskGIT.from_pretrained(tmp_path / "m")
    assert back.config == model.config
    tokens = torch.randint(0, 17, (1, 3, 4, 4))
    states, mask = text(1)
    torch.testing.assert_close(model(tokens, states, mask), back(tokens, states, mask))


@pytest.mark.parametrize("adaln", [False, True])
def test_loss_learns_a_toy_batch(adaln: bool) -> None:
    torch.manual_seed(0)
    model = tiny(adaln=adaln).train()
    tokens = torch.randint(0, 16, (4, 3, 4, 4))
    states, mask = text(4)
    g = torch.Generator().manual_seed(0)
    out = maskgit_loss(model, tokens, states, mask, generator=g, prime_prob=0.5)
    assert set(out) >= {"loss", "accuracy", "mask_ratio"}
    assert math.isfinite(out["loss"].item())
    assert abs(out["loss"].item() - math.log(16)) < 0.5  # near uniform at init
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        out = maskgit_loss(model, tokens, states, mask, generator=g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = out["loss"].item() if first is None else first
    final = maskgit_loss(model, tokens, states, mask, generator=g)["loss"].item()
    assert final < 0.5 * first


def test_loss_prime_steps_are_given_and_not_scored(monkeypatch) -> None:
    """With prime_prob 1 the first k time steps reach the model unmasked; prime_prob 0 masks
    at least one position in every sample."""
    model = tiny()
    tokens = torch.randint(0, 16, (8, 3, 4, 4))
    states, mask = text(8)
    seen = []
    original = MaskGIT.forward

    def spy(self, inputs, *args, **kw):
        seen.append(inputs.clone())
        return original(self, inputs, *args, **kw)

    monkeypatch.setattr(MaskGIT, "forward", spy)
    g = torch.Generator().manual_seed(1)
    maskgit_loss(model, tokens, states, mask, generator=g, prime_prob=1.0)
    inputs = seen[-1]
    assert (inputs[:, 0] == tokens[:, 0]).all()  # time step 0 is always a prime step
    assert ((inputs == 16).flatten(1).any(1)).all()  # but every sample has masked positions
    maskgit_loss(model, tokens, states, mask, generator=g, prime_prob=0.0)
    masked = seen[-1] == 16
    assert masked.flatten(1).any(1).all()
    assert (seen[-1][~masked] == tokens[~masked]).all()


def test_default_size_fits_the_model_budget() -> None:
    """The default MaskGIT (hidden 160, 6 layers, 1000 codes, plan input) stays near 2M
    parameters (8 MB in fp32), leaving room for the tokenizer in the 12 MB folder; the head
    is tied to the token embedding."""
    model = MaskGIT(layout_dim=10)
    assert 1.5e6 < model.num_parameters() < 2.3e6
    assert not any(name.startswith("head.") for name, _ in model.named_parameters())


def test_mask_schedule_is_cosine_and_ends_at_zero() -> None:
    counts = [mask_schedule(s, 8, 100) for s in range(8)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 0
    assert counts[0] == math.floor(100 * math.cos(math.pi / 16))


@pytest.mark.parametrize("guidance,temperature", [(3.0, 1.0), (1.0, 0.0)])
def test_generate_keeps_prime_tokens_and_fills_every_mask(guidance, temperature) -> None:
    model = tiny(randomise=True, layout_dim=3)
    states, mask = text(2)
    prime = torch.randint(0, 16, (2, 1, 4, 4))
    calls = []
    out = maskgit_generate(
        model, (2, 3, 4, 4), states, mask,
        uncond_states=torch.zeros(1, 2, 12), uncond_mask=torch.zeros(1, 2, dtype=torch.bool),
        layout=torch.randn(2, 3, 3, 4, 4), fps=8.0, prime=prime, steps=5, guidance=guidance,
        temperature=temperature, generator=torch.Generator().manual_seed(0),
        callback=lambda s, n: calls.append((s, n)),
    )  # fmt: skip
    assert out.shape == (2, 3, 4, 4) and out.dtype == torch.long
    assert (out[:, :1] == prime).all()
    assert ((out >= 0) & (out < 16)).all()
    assert calls == [(s, 5) for s in range(1, 6)]


def test_generate_is_deterministic_with_a_seeded_generator() -> None:
    model = tiny(randomise=True)
    states, mask = text(1)

    def run(seed: int) -> torch.Tensor:
        return maskgit_generate(
            model, (1, 3, 4, 4), states, mask, steps=4, guidance=2.0,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip

    a = run(0)
    torch.testing.assert_close(a, run(0))
    assert not torch.equal(a, run(1))


def test_generate_guidance_follows_the_condition() -> None:
    """A model that learned one grid per text: guided decoding returns that grid."""
    torch.manual_seed(0)
    model = tiny().train()
    grids = torch.randint(0, 16, (2, 2, 4, 4))
    states, mask = text(2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):
        loss = maskgit_loss(model, grids, states, mask, generator=g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = maskgit_generate(
        model, (2, 2, 4, 4), states, mask, steps=6, guidance=2.0, temperature=0.5,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert (out == grids).float().mean() > 0.8
