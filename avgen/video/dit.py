"""Space-time diffusion transformer over video-VAE latents (DiT, arXiv 2212.09748; Sora).

Written by us (diffusers' video transformers are far larger than this CPU budget):

- patches of (pt, ph, pw) latent cells become tokens; any (F', H', W') is accepted (padded to a
  multiple of the patch, cropped back), so one model trains and samples at native sizes and
  lengths, as Sora does;
- 3D rotary position embedding (RoPE, arXiv 2104.09864) with the head dimension split over the
  t / h / w axes, so no position table fixes the size;
- adaLN-Zero (DiT) conditioning on timestep + pooled text (+ frame rate), cross-attention on
  the text token states with their padding mask (PixArt-alpha, arXiv 2310.00426), plus one
  learned always-visible "null" key so an all-padding row is well defined;
- optional per-token conditioning for image-to-video and extension: the known latent and a 0/1
  mask are concatenated to the input channels (``cond["known"]`` (B, C, F', H', W'),
  ``cond["known_mask"]`` (B, 1, F', H', W'); zeros when absent);
- optional frame-rate condition ``cond["fps"]`` (float or (B,), default ``default_fps``): the
  rate at which the clip's motion was sampled, e.g. 32 for 4x slow motion at 8 fps playback;
- optional motion-plan layout (models with ``layout_dim`` > 0, ``avgen.video.layout``):
  ``cond["layout"]`` (B, layout_dim, F', H', W') per-cell features of where each object is
  (occupancy, centre offset, size, instance slot; never colour or shape), patchified like the
  latent and added to the patch tokens through a small MLP whose output starts at zero, so a
  text-only model fine-tunes into one that follows plans (all zeros, or no key = no plan).

Call contract (avgen.diffusion): ``model(x_t, t, cond) -> v``, all (B, C, F', H', W'); t (B,).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.modules import (
    AdaLNZeroBlock,
    SinusoidalEmbedder,
    adaln,
    embedding_mlp,
    modulate,
    rope_3d,
)


@dataclasses.dataclass
class DiTConfig(ModelConfig):
    """``VideoDiT``'s constructor arguments (its ``config.json``)."""

    model_name = "VideoDiT"

    latent_channels: int = 8
    patch_size: tuple[int, int, int] = (1, 2, 2)
    hidden_size: int = 192
    num_layers: int = 6
    num_heads: int = 3
    mlp_ratio: float = 4.0
    text_dim: int = 384
    known_conditioning: bool = True
    fps_conditioning: bool = True
    default_fps: float = 8.0
    rope_theta: float = 10000.0
    layout_dim: int = 0  # 0: no plan input (text-only models); avgen.video.layout.FEATURES


class VideoDiT(PretrainedModel):
    """Sora-style DiT over space-time latent patches, trained with rectified flow.

    Defaults (5.3M parameters, head size 64) are sized for CPU training: a 64x64x33 clip through
    the 4x VAE is a 9x16x16 latent, i.e. 576 tokens with patch (1, 2, 2).

    ``forward(x_t, t, cond) -> v`` with x_t (B, latent_channels, F', H', W'), t (B,) in [0, 1];
    ``cond`` keys: ``tokens`` (B, L, text_dim), ``mask`` (B, L) bool, ``pooled`` (B, text_dim),
    optional ``known`` / ``known_mask`` / ``fps`` (see the module docstring). Missing text keys
    mean "no text" (only the null key is attended, pooled = 0).
    """

    config_class = DiTConfig

    def __init__(self, config: DiTConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        hidden_size, num_heads, patch_size = cfg.hidden_size, cfg.num_heads, cfg.patch_size
        if hidden_size % num_heads or (hidden_size // num_heads) % 2:
            raise AvgenError(
                f"hidden_size={hidden_size} must split into {num_heads} heads of even size."
            )
        if len(patch_size) != 3 or min(patch_size) < 1:
            raise AvgenError(f"patch_size={patch_size} is not three positive integers.")
        self.latent_channels = latent_channels = cfg.latent_channels
        self.patch_size = tuple(int(p) for p in patch_size)
        self.hidden_size, self.num_heads, self.text_dim = hidden_size, num_heads, cfg.text_dim
        self.known_conditioning = cfg.known_conditioning
        self.fps_conditioning = cfg.fps_conditioning
        self.default_fps, self.rope_theta = cfg.default_fps, cfg.rope_theta
        in_ch = latent_channels * 2 + 1 if cfg.known_conditioning else latent_channels
        patch_vol = math.prod(self.patch_size)

        self.patch_embed = nn.Linear(in_ch * patch_vol, hidden_size)
        self.layout_dim = int(cfg.layout_dim)
        if self.layout_dim:  # per-token plan layout -> token offsets; zero output at init
            self.layout_in = nn.Sequential(
                nn.Linear(self.layout_dim * patch_vol, hidden_size),
                nn.SiLU(),
                nn.Linear(hidden_size, hidden_size),
            )
        self.t_embed = SinusoidalEmbedder(hidden_size, scale=1000.0)
        self.pooled_embed = embedding_mlp(cfg.text_dim, hidden_size)
        fps_embed = SinusoidalEmbedder(hidden_size, scale=100.0) if cfg.fps_conditioning else None
        self.fps_embed = fps_embed
        self.text_proj = nn.Sequential(
            nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, hidden_size)
        )
        self.null_token = nn.Parameter(torch.randn(1, 1, hidden_size) * 0.02)
        self.blocks = nn.ModuleList(
            AdaLNZeroBlock(hidden_size, num_heads, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        self.final_norm = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Linear(hidden_size, 2 * hidden_size)
        self.final = nn.Linear(hidden_size, latent_channels * patch_vol)
        self._init_weights()

    def _init_weights(self) -> None:
        """DiT init: xavier linears; adaLN, cross-attention output and final layer at zero."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            for layer in (block.ada, block.cross.out):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        for layer in (self.final_ada, self.final):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.layout_dim:
            nn.init.zeros_(self.layout_in[2].weight)
            nn.init.zeros_(self.layout_in[2].bias)

    # ---- patches -------------------------------------------------------------------------
    def patchify(self, x: Tensor) -> tuple[Tensor, tuple[int, int, int]]:
        """(B, C, F, H, W) -> tokens (B, N, C * pt * ph * pw) and the grid (F/pt, H/ph, W/pw)."""
        pt, ph, pw = self.patch_size
        b, c, f, h, w = x.shape
        pads = (-w % pw, -h % ph, -f % pt)
        if any(pads):
            x = F.pad(x, (0, pads[0], 0, pads[1], 0, pads[2]))
        gt, gh, gw = (f + pads[2]) // pt, (h + pads[1]) // ph, (w + pads[0]) // pw
        x = x.reshape(b, c, gt, pt, gh, ph, gw, pw)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, gt, gh, gw, C, pt, ph, pw)
        return x.reshape(b, gt * gh * gw, c * pt * ph * pw), (gt, gh, gw)

    def unpatchify(self, tokens: Tensor, grid: tuple[int, int, int], shape: torch.Size) -> Tensor:
        """tokens (B, N, C * pt * ph * pw) -> (B, C, F, H, W) cropped to ``shape``."""
        pt, ph, pw = self.patch_size
        gt, gh, gw = grid
        b, c = tokens.shape[0], self.latent_channels
        x = tokens.reshape(b, gt, gh, gw, c, pt, ph, pw)
        x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)  # (B, C, gt, pt, gh, ph, gw, pw)
        x = x.reshape(b, c, gt * pt, gh * ph, gw * pw)
        return x[:, :, : shape[2], : shape[3], : shape[4]]

    # ---- conditioning --------------------------------------------------------------------
    def _batch_scalar(self, value: Any, b: int, ref: Tensor, name: str) -> Tensor:
        v = torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
        if v.ndim == 0:
            v = v.expand(b)
        if v.shape != (b,):
            raise AvgenError(f"{name} has shape {tuple(v.shape)}; expected a scalar or ({b},).")
        return v

    def _text(self, cond: Mapping[str, Any], b: int, ref: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """-> context (B, 1 + L, hidden), its mask (B, 1 + L) bool, pooled (B, text_dim)."""
        null = self.null_token.to(ref.dtype).expand(b, 1, -1)
        ones = torch.ones(b, 1, dtype=torch.bool, device=ref.device)
        tokens = cond.get("tokens")
        if tokens is None:
            ctx, mask = null, ones
        else:
            if tokens.ndim != 3 or tokens.shape[0] != b or tokens.shape[2] != self.text_dim:
                raise AvgenError(
                    f"cond['tokens'] has shape {tuple(tokens.shape)}; expected "
                    f"({b}, L, {self.text_dim})."
                )
            tmask = cond.get("mask")
            if tmask is None:
                tmask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=ref.device)
            ctx = torch.cat([null, self.text_proj(tokens.to(ref.dtype))], dim=1)
            mask = torch.cat([ones, tmask.to(device=ref.device, dtype=torch.bool)], dim=1)
        pooled = cond.get("pooled")
        if pooled is None:
            pooled = torch.zeros(b, self.text_dim, dtype=ref.dtype, device=ref.device)
        return ctx, mask, pooled.to(ref.dtype)

    def _input(self, x: Tensor, cond: Mapping[str, Any]) -> Tensor:
        """Concatenate known latent and known mask channels (zeros when absent)."""
        if not self.known_conditioning:
            return x
        known, kmask = cond.get("known"), cond.get("known_mask")
        if known is None or kmask is None:
            known = torch.zeros_like(x)
            kmask = torch.zeros_like(x[:, :1])
        if known.shape != x.shape or kmask.shape != (x.shape[0], 1, *x.shape[2:]):
            raise AvgenError(
                f"cond['known'] {tuple(known.shape)} / cond['known_mask'] {tuple(kmask.shape)} "
                f"do not fit the latent {tuple(x.shape)} (mask has 1 channel)."
            )
        kmask = kmask.to(x.dtype)
        return torch.cat([x, known.to(x.dtype) * kmask, kmask], dim=1)  # (B, 2C + 1, F, H, W)

    def _layout(self, cond: Mapping[str, Any], x: Tensor) -> Tensor | None:
        """The layout's token offsets (B, N, hidden), or None (no layout input). No plan is
        the all-zero layout, as plan dropout trains it."""
        layout = cond.get("layout")
        if not self.layout_dim:
            return None
        if layout is None:
            zero = x.new_zeros(1, 1, self.layout_dim * math.prod(self.patch_size))
            return self.layout_in(zero)  # (1, 1, hidden): the same offset for every token
        want = (x.shape[0], self.layout_dim, *x.shape[2:])
        if tuple(layout.shape) != want:
            raise AvgenError(
                f"cond['layout'] has shape {tuple(layout.shape)}; expected {want} "
                "(batch, layout features, latent frames, height, width)."
            )
        tokens, _ = self.patchify(layout.to(x.dtype))
        return self.layout_in(tokens)

    # ---- forward -------------------------------------------------------------------------
    def forward(self, x: Tensor, t: Tensor, cond: Mapping[str, Any] | None = None) -> Tensor:
        """Velocity prediction v (B, C, F', H', W') for x_t at times t (B,)."""
        cond = cond or {}
        if x.ndim != 5 or x.shape[1] != self.latent_channels:
            raise AvgenError(
                f"latent of shape {tuple(x.shape)} is not (B, {self.latent_channels}, F', H', W')."
            )
        b = x.shape[0]
        t = self._batch_scalar(t, b, x, "t")
        tokens, grid = self.patchify(self._input(x, cond))  # (B, N, in_ch * patch_vol)
        h = self.patch_embed(tokens)  # (B, N, hidden)
        offsets = self._layout(cond, x)
        if offsets is not None:
            h = h + offsets
        ctx, ctx_mask, pooled = self._text(cond, b, x)
        c = self.t_embed(t) + self.pooled_embed(pooled)  # (B, hidden)
        if self.fps_embed is not None:
            fps = self._batch_scalar(cond.get("fps", self.default_fps), b, x, "cond['fps']")
            c = c + self.fps_embed(torch.log2(fps.clamp_min(1e-3)))
        rope = rope_3d(grid, self.hidden_size // self.num_heads, self.rope_theta, x.device)
        for block in self.blocks:
            h = block(h, c, ctx, ctx_mask, rope)
        sh, sc = adaln(self.final_ada, c, 2)  # (B, hidden) each
        out = self.final(modulate(self.final_norm(h), sh, sc))  # (B, N, C * patch_vol)
        return self.unpatchify(out, grid, x.shape)


def random_known_condition(
    x0: Tensor,
    generator: torch.Generator | None = None,
    *,
    p_image: float = 0.2,
    p_extend: float = 0.2,
    max_context: int = 2,
) -> dict[str, Tensor]:
    """Training helper: per sample, reveal nothing, the first latent frame (image-to-video, with
    probability p_image) or the first 1..max_context latent frames (extension, p_extend).

    Returns ``{"known": x0 * mask, "known_mask": (B, 1, F', H', W')}`` to merge into ``cond``;
    pass ``mask=1 - known_mask`` to ``flow_matching_loss`` so revealed frames are not scored.
    """
    b, _, f = x0.shape[:3]
    u = torch.rand(b, generator=generator)
    lengths = torch.randint(1, max(2, max_context + 1), (b,), generator=generator)
    n = torch.where(
        u < p_image,
        torch.ones_like(lengths),
        torch.where(u < p_image + p_extend, lengths.clamp(max=f - 1), torch.zeros_like(lengths)),
    ).to(x0.device)  # (B,) revealed latent frames; vectorised, so it runs on any device
    frame = torch.arange(f, device=x0.device)
    mask = (frame[None, :] < n[:, None]).to(x0.dtype)  # (B, F')
    mask = mask[:, None, :, None, None].expand(b, 1, *x0.shape[2:]).contiguous()
    return {"known": x0 * mask, "known_mask": mask}
