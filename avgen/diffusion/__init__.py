"""Flow-matching objective and samplers shared by every avgen denoiser.

THE time convention (written down here and nowhere else; SD3's rectified flow, arXiv 2403.03206):

    x_t = (1 - t) * x0 + t * noise,    t in [0, 1],    t = 1 is pure noise, t = 0 is data.

Every denoiser, own or wrapped, is called ``model(x_t, t, cond) -> v`` where ``t`` is a float
tensor of shape (B,) and ``v`` is the predicted velocity ``noise - x0`` (so dx_t/dt = v and a
sampler integrates from t = 1 down to t = 0). ``cond`` is a dict of tensors whose first
dimension is the batch, e.g. ``{"tokens": (B, L, D), "mask": (B, L) bool, "pooled": (B, D)}``;
models may accept more optional keys (tempo, seconds, beat grids ...). A prediction of x0 from
v is ``x0 = x_t - t * v``; of the noise, ``noise = x_t + (1 - t) * v``.

Classifier-free guidance batches the conditional and unconditional condition in one forward
call (``concat_conditions``); keys that the unconditional dict lacks are copied from the
conditional one (so timing conditions such as tempo stay on in both passes, as Stable Audio
does), and token sequences of different lengths are zero-padded with mask False.
"""

from avgen.diffusion.flow import (
    concat_conditions,
    flow_matching_loss,
    sample,
    sample_timesteps,
    timestep_schedule,
)

__all__ = [
    "concat_conditions",
    "flow_matching_loss",
    "sample",
    "sample_timesteps",
    "timestep_schedule",
]
