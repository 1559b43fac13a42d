"""MaskGIT over discrete video tokens (arXiv 2202.04200), Phenaki's generator (arXiv 2210.02399).

Written by us. A bidirectional transformer reads a (t, h, w) grid of C-ViViT token ids
(``avgen.video.cvivit``) in which some ids are the ``mask_id`` and predicts, for every position,
logits over the codebook:

- token ids (plus one extra id, ``mask_id`` = ``codebook_size``) are embedded, then a learned
  factorised 3D position (time + row + column tables, sized by ``max_t``, ``h``, ``w``) is
  added; attention also rotates queries and keys by 3D RoPE (``avgen.modules.rope_3d``);
- the frozen text encoder's token states condition every block through cross-attention (with
  one learned always-visible "null" key, so the all-padding "no text" row of classifier-free
  guidance is well defined); their masked mean plus the frame rate (``fps_conditioning``) make
  one condition vector, added to every token (pre-norm blocks, the default) or setting the
  blocks' adaLN-Zero modulation as in the video DiT (``adaln``: 6 hidden^2 more weights a
  block, which the 12 MB model budget rarely affords: there is no diffusion time to modulate);
- the output head is tied to the token embedding (logits = LayerNorm(h) E^T + b, MaskGIT's
  choice), so the codebook costs its weights once;
- optional motion-plan layout (``layout_dim`` > 0, ``avgen.video.layout.FEATURES``): per-token
  features (B, layout_dim, t, h, w) go through a small MLP whose output layer starts at zero and
  are added to the token embeddings; an all-zero layout (or none) means "no plan".

``maskgit_loss`` trains it with random-ratio masking (ratio cos(pi/2 u), u uniform) and, with
probability ``prime_prob``, prime frames: the first 1..t-1 time steps are given unmasked and
not scored, which is how the pipeline continues a clip from the tokens of its last frames.
``maskgit_generate`` decodes in parallel over ``steps`` rounds with the cosine schedule:
classifier-free guidance mixes conditional and unconditional logits, ids are sampled with
temperature (Gumbel-max), and the least confident new ids (their log-probability plus Gumbel
noise annealed to zero) are masked again for the next round; prime tokens are never changed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avgen.errors import AvgenError
from avgen.modeling import ModelConfig, PretrainedModel
from avgen.modules import (
    AdaLNZeroBlock,
    CrossAttention,
    SelfAttention,
    SinusoidalEmbedder,
    adaln,
    feed_forward,
    modulate,
    rope_3d,
)


@dataclasses.dataclass
class MaskGITConfig(ModelConfig):
    """``MaskGIT``'s constructor arguments (its ``config.json``)."""

    model_name = "MaskGIT"

    codebook_size: int = 1000
    max_t: int = 9  # time steps of the position table (17 frames: 1 + 16 / 2)
    h: int = 8
    w: int = 8
    hidden_size: int = 160
    num_layers: int = 6
    num_heads: int = 4
    mlp_ratio: float = 2.0
    text_dim: int = 384
    layout_dim: int = 0  # 0: no plan input; avgen.video.layout.FEATURES (10) reads plans
    fps_conditioning: bool = True
    default_fps: float = 8.0
    rope_theta: float = 10000.0
    adaln: bool = False  # True: adaLN-Zero blocks (the DiT's); False: pre-norm blocks


class MaskGITBlock(nn.Module):
    """Pre-norm transformer block: self-attention (3D RoPE), cross-attention on the text, MLP."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.cross = CrossAttention(hidden_size, num_heads)
        self.norm3 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.mlp = feed_forward(hidden_size, mlp_ratio, "tanh")

    def forward(
        self,
        x: Tensor,
        c: Tensor,
        context: Tensor,
        context_mask: Tensor | None,
        rope: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """x (B, N, D); ``c`` is unused (added to the tokens before the first block)."""
        x = x + self.attn(self.norm1(x), rope)
        x = x + self.cross(self.norm2(x), context, context_mask)
        return x + self.mlp(self.norm3(x))


class MaskGIT(PretrainedModel):
    """Bidirectional masked-token transformer over (t, h, w) video token grids.

    ``forward(tokens, text_states, text_mask, layout=None, fps=None) -> logits``: tokens
    (B, t, h, w) long in [0, codebook_size] (``mask_id`` where masked), text_states
    (B, L, text_dim), text_mask (B, L) bool (None: all real), layout (B, layout_dim, t, h, w),
    fps a number or (B,); logits (B, t, h, w, codebook_size) (the mask id is never predicted).
    Any grid up to (max_t, h, w) works.
    """

    config_class = MaskGITConfig

    def __init__(self, config: MaskGITConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.register_config(config, kwargs)
        hidden, heads = cfg.hidden_size, cfg.num_heads
        if hidden % heads or (hidden // heads) % 2:
            raise AvgenError(f"hidden_size={hidden} must split into {heads} heads of even size.")
        if min(cfg.codebook_size, cfg.max_t, cfg.h, cfg.w, cfg.num_layers) < 1:
            raise AvgenError(
                "codebook_size, max_t, h, w and num_layers must all be positive whole numbers."
            )
        self.codebook_size = int(cfg.codebook_size)
        self.mask_id = self.codebook_size
        self.max_t, self.h, self.w = int(cfg.max_t), int(cfg.h), int(cfg.w)
        self.hidden_size, self.num_heads, self.text_dim = hidden, heads, int(cfg.text_dim)
        self.layout_dim = int(cfg.layout_dim)
        self.fps_conditioning, self.default_fps = cfg.fps_conditioning, float(cfg.default_fps)
        self.rope_theta = float(cfg.rope_theta)

        self.token_embed = nn.Embedding(self.codebook_size + 1, hidden)
        self.pos_t = nn.Parameter(torch.randn(self.max_t, hidden) * 0.02)
        self.pos_h = nn.Parameter(torch.randn(self.h, hidden) * 0.02)
        self.pos_w = nn.Parameter(torch.randn(self.w, hidden) * 0.02)
        if self.layout_dim:  # per-token plan layout -> token offsets; zero output at init
            self.layout_in = nn.Sequential(
                nn.Linear(self.layout_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
        self.text_proj = nn.Sequential(
            nn.LayerNorm(self.text_dim), nn.Linear(self.text_dim, hidden)
        )
        self.null_token = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.cond_mlp = nn.Sequential(
            nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.fps_embed = SinusoidalEmbedder(hidden, scale=100.0) if cfg.fps_conditioning else None
        self.adaln = bool(cfg.adaln)
        block = AdaLNZeroBlock if self.adaln else MaskGITBlock
        self.blocks = nn.ModuleList(
            block(hidden, heads, cfg.mlp_ratio) for _ in range(cfg.num_layers)
        )
        if self.adaln:
            self.final_norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
            self.final_ada = nn.Linear(hidden, 2 * hidden)
        else:
            self.final_norm = nn.LayerNorm(hidden, eps=1e-6)
        self.head_bias = nn.Parameter(torch.zeros(self.codebook_size))  # tied head's bias
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier linears; token embeddings small (the tied head's logits start near uniform:
        loss log K); every block starts as the identity (``adaln``: the adaLN and
        cross-attention outputs at zero, as in the DiT; pre-norm: the residual branches' output
        layers and the condition vector at zero); the layout MLP's output at zero (a text-only
        model fine-tunes into a plan-following one)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        if self.adaln:
            zero = [self.final_ada] + [layer for b in self.blocks for layer in (b.ada, b.cross.out)]
        else:  # the condition vector and every residual branch start at zero (no swamping of
            # the small token embeddings; each block starts as the identity)
            zero = [self.cond_mlp[2]] + ([self.fps_embed.mlp[2]] if self.fps_embed else [])
            zero += [layer for b in self.blocks for layer in (b.attn.out, b.cross.out, b.mlp[2])]
        for layer in zero:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.layout_dim:
            nn.init.zeros_(self.layout_in[2].weight)
            nn.init.zeros_(self.layout_in[2].bias)

    # ---- conditioning --------------------------------------------------------------------
    def _text(self, states: Tensor | None, mask: Tensor | None, b: int, ref: Tensor) -> tuple:
        """-> context (B, 1 + L, hidden), its mask (B, 1 + L) bool, pooled text (B, hidden)."""
        null = self.null_token.to(ref.dtype).expand(b, 1, -1)
        ones = torch.ones(b, 1, dtype=torch.bool, device=ref.device)
        if states is None:
            return null, ones, ref.new_zeros(b, self.hidden_size)
        if states.ndim != 3 or states.shape[0] != b or states.shape[2] != self.text_dim:
            raise AvgenError(
                f"text states have shape {tuple(states.shape)}; expected ({b}, L, {self.text_dim})."
            )
        if mask is None:
            mask = torch.ones(states.shape[:2], dtype=torch.bool, device=ref.device)
        if tuple(mask.shape) != tuple(states.shape[:2]):
            raise AvgenError(
                f"the text mask has shape {tuple(mask.shape)}; expected {tuple(states.shape[:2])}."
            )
        mask = mask.to(device=ref.device, dtype=torch.bool)
        proj = self.text_proj(states.to(device=ref.device, dtype=ref.dtype))  # (B, L, hidden)
        weights = mask.to(ref.dtype)[..., None]
        pooled = (proj * weights).sum(1) / weights.sum(1).clamp_min(1.0)  # 0 for no text
        return torch.cat([null, proj], 1), torch.cat([ones, mask], 1), pooled

    def _layout(self, layout: Tensor | None, grid: tuple[int, int, int], b: int, ref: Tensor):
        """The layout's token offsets (B or 1, N, hidden), or None (no layout input)."""
        if not self.layout_dim:
            return None
        if layout is None:  # "no plan" is the all-zero layout, as plan dropout trains it
            return self.layout_in(ref.new_zeros(1, 1, self.layout_dim))
        want = (b, self.layout_dim, *grid)
        if tuple(layout.shape) != want:
            raise AvgenError(
                f"the layout has shape {tuple(layout.shape)}; expected {want} "
                "(batch, layout features, time steps, height, width)."
            )
        feats = layout.to(device=ref.device, dtype=ref.dtype).flatten(2).transpose(1, 2)
        return self.layout_in(feats)  # (B, N, hidden)

    def _fps(self, fps: Any, b: int, ref: Tensor) -> Tensor:
        v = torch.as_tensor(self.default_fps if fps is None else fps, dtype=ref.dtype)
        v = v.to(ref.device)
        if v.ndim == 0:
            v = v.expand(b)
        if tuple(v.shape) != (b,):
            raise AvgenError(f"fps has shape {tuple(v.shape)}; expected a number or ({b},).")
        return self.fps_embed(torch.log2(v.clamp_min(1e-3)))

    # ---- forward -------------------------------------------------------------------------
    def forward(
        self,
        tokens: Tensor,
        text_states: Tensor | None,
        text_mask: Tensor | None = None,
        layout: Tensor | None = None,
        fps: Any = None,
    ) -> Tensor:
        """Logits (B, t, h, w, codebook_size) for the token grid (B, t, h, w)."""
        if tokens.ndim != 4:
            raise AvgenError(f"tokens of shape {tuple(tokens.shape)} are not (B, t, h, w).")
        b, t, h, w = tokens.shape
        if t > self.max_t or h > self.h or w > self.w:
            raise AvgenError(
                f"a token grid of {t}x{h}x{w} is larger than this MaskGIT's "
                f"{self.max_t}x{self.h}x{self.w}."
            )
        if tokens.dtype not in (torch.int64, torch.int32) or bool(
            ((tokens < 0) | (tokens > self.mask_id)).any()
        ):
            raise AvgenError(f"token ids must be whole numbers in 0..{self.mask_id} (the mask id).")
        pos = (
            self.pos_t[:t, None, None] + self.pos_h[None, :h, None] + self.pos_w[None, None, :w]
        )  # (t, h, w, hidden)
        x = self.token_embed(tokens.long()) + pos  # (B, t, h, w, hidden)
        x = x.reshape(b, t * h * w, self.hidden_size)
        offsets = self._layout(layout, (t, h, w), b, x)
        if offsets is not None:
            x = x + offsets
        ctx, ctx_mask, pooled = self._text(text_states, text_mask, b, x)
        c = self.cond_mlp(pooled)  # (B, hidden)
        if self.fps_embed is not None:
            c = c + self._fps(fps, b, x)
        if not self.adaln:
            x = x + c[:, None]
        rope = rope_3d((t, h, w), self.hidden_size // self.num_heads, self.rope_theta, x.device)
        for block in self.blocks:
            x = block(x, c, ctx, ctx_mask, rope)
        x = self.final_norm(x)
        if self.adaln:
            x = modulate(x, *adaln(self.final_ada, c, 2))
        weight = self.token_embed.weight[: self.codebook_size]  # tied head (K, hidden)
        logits = x @ weight.t().to(x.dtype) + self.head_bias.to(x.dtype)  # (B, N, K)
        return logits.reshape(b, t, h, w, self.codebook_size)


# ---- training ------------------------------------------------------------------------------
def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device):
    """Uniform [0, 1) numbers drawn on the generator's device, moved to ``device``."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def maskgit_loss(
    model: MaskGIT,
    tokens: Tensor,
    text_states: Tensor | None,
    text_mask: Tensor | None,
    layout: Tensor | None = None,
    fps: Any = None,
    *,
    generator: torch.Generator | None,
    prime_prob: float = 0.3,
) -> dict[str, Tensor]:
    """Masked-token cross-entropy of one batch of token grids (B, t, h, w).

    Per sample: with probability ``prime_prob`` (and t > 1) the first k in 1..t-1 time steps are
    prime frames (given, not scored); of the other positions a fraction cos(pi/2 u), u uniform,
    (at least one) is replaced by the mask id, and the loss is the mean cross-entropy over all
    masked positions of the batch. Returns ``loss``, ``accuracy`` (of the masked positions'
    argmax) and ``mask_ratio`` (masked / scoreable positions).
    """
    if tokens.ndim != 4:
        raise AvgenError(f"tokens of shape {tuple(tokens.shape)} are not (B, t, h, w).")
    b, t, h, w = tokens.shape
    dev = tokens.device
    u = _rand((b,), generator, dev)
    ratio = torch.cos(math.pi / 2 * u)  # (B,)
    prime_u = _rand((b,), generator, dev)
    k_u = _rand((b,), generator, dev)
    if t > 1:
        k = 1 + (k_u * (t - 1)).long().clamp(max=t - 2)  # 1..t-1
        k = torch.where(prime_u < prime_prob, k, torch.zeros_like(k))
    else:
        k = torch.zeros(b, dtype=torch.long, device=dev)
    step = torch.arange(t, device=dev)
    scoreable = (step[None, :] >= k[:, None])[:, :, None, None].expand(b, t, h, w)
    scoreable = scoreable.reshape(b, -1)  # (B, N)
    n_free = scoreable.sum(1)  # (B,)
    n_mask = torch.ceil(ratio * n_free).long().clamp(min=1)
    n_mask = torch.minimum(n_mask, n_free)
    scores = _rand((b, t * h * w), generator, dev)
    scores = scores.masked_fill(~scoreable, 2.0)  # prime positions sort last: never masked
    rank = scores.argsort(1).argsort(1)  # (B, N): rank of each position's score
    masked = rank < n_mask[:, None]  # the n_mask lowest-scored scoreable positions
    masked = masked.reshape(b, t, h, w)
    inputs = tokens.masked_fill(masked, model.mask_id)
    logits = model(inputs, text_states, text_mask, layout, fps)  # (B, t, h, w, K)
    target = tokens[masked].long()
    picked = logits[masked].float()  # (M, K)
    loss = F.cross_entropy(picked, target)
    with torch.no_grad():
        accuracy = (picked.argmax(-1) == target).float().mean()
        mask_ratio = masked.sum().float() / n_free.sum().clamp_min(1).float()
    return {"loss": loss, "accuracy": accuracy, "mask_ratio": mask_ratio}


# ---- sampling ------------------------------------------------------------------------------
def mask_schedule(step: int, steps: int, total: int) -> int:
    """Positions still masked after round ``step`` (0-based) of ``steps``: cosine schedule,
    floor(total cos(pi/2 (step + 1) / steps)); 0 after the last round."""
    return int(math.floor(total * math.cos(math.pi / 2 * (step + 1) / steps)))


def _pad_text(states: Tensor, mask: Tensor | None, length: int) -> tuple[Tensor, Tensor]:
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
    pad = length - states.shape[1]
    if pad:
        states = F.pad(states, (0, 0, 0, pad))
        mask = F.pad(mask, (0, pad), value=False)
    return states, mask.bool()


def _gumbel(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device):
    u = _rand(shape, generator, device)
    return -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))


@torch.no_grad()
def maskgit_generate(
    model: MaskGIT,
    shape: tuple[int, int, int, int],
    text_states: Tensor | None,
    text_mask: Tensor | None,
    *,
    uncond_states: Tensor | None = None,
    uncond_mask: Tensor | None = None,
    layout: Tensor | None = None,
    fps: Any = None,
    prime: Tensor | None = None,
    steps: int = 12,
    guidance: float = 3.0,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    callback: Any = None,
) -> Tensor:
    """Token ids (B, t, h, w) for ``shape`` = (B, t, h, w), none of them the mask id.

    ``prime`` (B, k, h, w) are the first k time steps, kept unchanged. Each of ``steps`` rounds
    predicts every masked position: with ``guidance`` != 1 the logits are
    uncond + guidance (cond - uncond), the conditional pass reading the text and ``layout``,
    the unconditional one ``uncond_states`` (None: no text) and no plan (as the DiT's sampler
    does); ids are sampled from softmax(logits / temperature) (argmax at temperature 0), and the
    cosine schedule's count of the least confident new ids (log-probability plus Gumbel noise
    times temperature (1 - progress)) is masked again. ``callback(step, steps)`` after each round.
    """
    b, t, h, w = (int(s) for s in shape)
    if steps < 1:
        raise AvgenError(f"steps={steps} must be at least 1.")
    device = next(model.parameters()).device
    tokens = torch.full((b, t, h, w), model.mask_id, dtype=torch.long, device=device)
    known = torch.zeros(b, t, h, w, dtype=torch.bool, device=device)
    if prime is not None:
        k = prime.shape[1]
        if prime.ndim != 4 or prime.shape[0] != b or tuple(prime.shape[2:]) != (h, w) or k > t:
            raise AvgenError(
                f"prime tokens of shape {tuple(prime.shape)} do not fit the grid {(b, t, h, w)}."
            )
        tokens[:, :k] = prime.to(device=device, dtype=torch.long)
        known[:, :k] = True
    total = int((~known[0]).sum())
    if total == 0:
        return tokens
    guided = float(guidance) != 1.0
    if guided:  # cond and uncond in one batch of 2B
        ts = None if text_states is None else text_states.to(device)
        tm = None if text_mask is None else text_mask.to(device)
        us = uncond_states
        if ts is None and us is None:
            guided = False
        else:
            if ts is None:
                ts, tm = us.new_zeros(b, 1, us.shape[2]), us.new_zeros(b, 1, dtype=torch.bool)
            if us is None:
                us, um = ts.new_zeros(b, 1, ts.shape[2]), ts.new_zeros(b, 1, dtype=torch.bool)
            else:
                us = us.to(device).expand(b, *us.shape[1:])
                um = None if uncond_mask is None else uncond_mask.to(device).expand(b, -1)
            length = max(ts.shape[1], us.shape[1])
            ts, tm = _pad_text(ts, tm, length)
            us, um = _pad_text(us, um, length)
            states2, mask2 = torch.cat([ts, us]), torch.cat([tm, um])
            layout2 = None
            if layout is not None and model.layout_dim:
                layout2 = torch.cat([layout.to(device), torch.zeros_like(layout, device=device)])
            fps2 = fps
            if fps is not None and torch.as_tensor(fps).ndim > 0:
                fps2 = torch.cat([torch.as_tensor(fps)] * 2)
    for step in range(steps):
        if guided:
            cond, uncond = model(torch.cat([tokens, tokens]), states2, mask2, layout2, fps2).chunk(
                2
            )
            logits = uncond + float(guidance) * (cond - uncond)
        else:
            logits = model(tokens, text_states, text_mask, layout, fps)
        logits = logits.float()  # (B, t, h, w, K)
        if temperature > 0:
            sampled = logits / temperature + _gumbel(tuple(logits.shape), generator, device)
            sampled = sampled.argmax(-1)
        else:
            sampled = logits.argmax(-1)
        logp = torch.log_softmax(logits, -1).gather(-1, sampled[..., None])[..., 0]
        masked = tokens == model.mask_id
        sampled = torch.where(masked, sampled, tokens)
        remain = mask_schedule(step, steps, total)
        n_masked = int(masked[0].sum())
        remain = max(0, min(remain, n_masked - 1))
        if step == steps - 1:
            remain = 0
        if remain > 0:
            noise = temperature * (1.0 - (step + 1) / steps)
            conf = logp + noise * _gumbel(tuple(logp.shape), generator, device)
            conf = conf.masked_fill(~masked, math.inf).reshape(b, -1)
            lowest = conf.topk(remain, dim=1, largest=False).indices  # (B, remain)
            again = torch.zeros_like(conf, dtype=torch.bool).scatter_(1, lowest, True)
            sampled = sampled.masked_fill(again.reshape(b, t, h, w), model.mask_id)
        tokens = sampled
        if callback is not None:
            callback(step + 1, steps)
    return tokens
