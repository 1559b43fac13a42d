"""Training-loop helpers shared by avgen's trainers: EMA, checkpoints, loss log, progress.

Everything here runs under Hugging Face Accelerate (one process or ``accelerate launch`` over
several): only the main process writes checkpoints, logs and progress bars.

- ``EMA``: exponential moving average of parameters with diffusers ``EMAModel``'s warm-up
  (decay = 1 - (1 + step) ** -power, power 3/4, capped at ``max_decay``), which suits short runs.
- ``Checkpointer``: resumable training state (model, optimizer, EMA, grad scaler, step)
  written atomically (temporary file, then rename) as ``step_XXXXXXXX.pt``; only avgen's own
  files are read back, with ``torch.load(weights_only=True)``, which runs no code.
- ``LossLog``: one JSON line per logged step in ``train_log.jsonl``, rewound to the
  checkpoint's step when a component resumes (no duplicate rows).
- the loop's pieces, also used by ``tools/gpu_train_video.py``: ``scheduled_lr`` (linear
  warm-up, then constant or cosine decay over the steps or the time budget), ``make_optimizer``,
  ``optimizer_step``, ``TimeBudget``; the recipe's flags are ``avgen.train.options``.
- ``ComponentLoop``: one component's loop (resume, steps, log, checkpoints, stop and save).
  Its random numbers and its batches depend on (seed, component, step) alone
  (``avgen.train.streams``), so a run killed and resumed from its last checkpoint ends with
  weights bitwise equal to an uninterrupted run's, whatever ``--checkpoint-every`` is.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.train.options import LoopOptions, loop_options, model_configs, per_component
from avgen.train.streams import batch_at, reseed_step


class EMA:
    """Parameter EMA with diffusers-style warm-up: decay_k = min(max_decay, 1 - (1 + k)^-power)."""

    def __init__(self, model: nn.Module, max_decay: float = 0.999, power: float = 0.75) -> None:
        self.max_decay, self.power = max_decay, power
        self.step = 0
        self.shadow = {k: p.detach().clone().float() for k, p in model.named_parameters()}

    def decay(self) -> float:
        if self.step <= 0:
            return 0.0
        return min(self.max_decay, 1.0 - (1.0 + self.step) ** -self.power)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.step += 1
        d = self.decay()
        for k, p in model.named_parameters():
            self.shadow[k].mul_(d).add_(p.detach().float(), alpha=1.0 - d)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights into ``model`` (for saving or evaluation)."""
        for k, p in model.named_parameters():
            p.copy_(self.shadow[k].to(p.dtype))

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.shadow = {k: v.float() for k, v in state["shadow"].items()}


class Checkpointer:
    """Atomic, resumable checkpoints of one component in ``folder`` (``step_XXXXXXXX.pt``)."""

    def __init__(self, folder: str | Path, keep: int = 2) -> None:
        self.folder = Path(folder)
        self.keep = keep

    def paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("step_*.pt"))

    def latest(self) -> Path | None:
        paths = self.paths()
        return paths[-1] if paths else None

    def save(self, step: int, state: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step_{step:08d}.pt"
        tmp = temp_path(path)
        torch.save({"step": step, **state}, tmp)
        with open(tmp, "rb+") as f:  # on disk before the rename (a power cut keeps either)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        for stale in self.folder.glob(".step_*.pt.tmp"):  # left by a killed write
            stale.unlink(missing_ok=True)
        return path

    def load(self, path: str | Path | None = None) -> dict[str, Any] | None:
        path = Path(path) if path is not None else self.latest()
        if path is None:
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file
            raise AvgenError(
                f"checkpoint {path} cannot be read ({exc.__class__.__name__})."
            ) from exc

    def mark_done(self, step: int, extra: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(self.folder / "done.json")
        tmp.write_text(json.dumps({"step": step, **(extra or {})}) + "\n")
        os.replace(tmp, self.folder / "done.json")

    def done(self) -> dict[str, Any] | None:
        path = self.folder / "done.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None


class LossLog:
    """Append-only JSON-lines loss log (written by the main process only)."""

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 2), **record}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def rewind(self, component: str, step: int) -> None:
        """Drop ``component``'s rows after ``step`` (a resumed run writes them again) and any
        line cut short by a killed process; rewritten atomically."""
        if not self.enabled or not self.path.is_file():
            return
        keep = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            later = isinstance(row, dict) and row.get("component") == component
            if later and int(row.get("step", 0)) > step:
                continue
            keep.append(line + "\n")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(keep))
        os.replace(tmp, self.path)


def progress(total: int, initial: int, desc: str, disable: bool) -> tqdm:
    """The trainer's progress bar (tqdm); ``disable`` for --quiet and non-main processes."""
    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=disable)


def warmup_lr(step: int, base_lr: float, warmup: int) -> float:
    """Linear warm-up to ``base_lr`` over ``warmup`` steps, then constant (DiT's recipe)."""
    if warmup <= 0:
        return base_lr
    return base_lr * min(1.0, (step + 1) / warmup)


def scheduled_lr(
    base_lr: float,
    step: int,
    warmup: int,
    schedule: str = "constant",
    progress: float = 0.0,
    min_ratio: float = 0.1,
) -> float:
    """The learning rate of ``step``: linear warm-up over ``warmup`` steps, then ``constant``, or
    ``cosine`` decay from ``base_lr`` to ``min_ratio * base_lr`` as ``progress`` goes from 0 to 1
    (SGDR's cosine, Loshchilov and Hutter, arXiv 1608.03983, without restarts)."""
    lr = warmup_lr(step, base_lr, warmup)
    if schedule == "cosine":
        frac = min(1.0, max(0.0, progress))
        lr = lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * frac)))
    return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_optimizer(params: Iterable, lr: float) -> torch.optim.Optimizer:
    """Every trainer's optimizer: AdamW, betas (0.9, 0.99), no weight decay."""
    return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)


def optimizer_step(
    acc: Any, model: nn.Module, opt: Any, loss: torch.Tensor, averager: EMA | None = None
) -> None:
    """One update: backward through Accelerate (loss scaling, DDP), gradient norm clipped at 1,
    the optimizer step, and the EMA's update."""
    acc.backward(loss)
    acc.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if averager is not None:
        averager.update(acc.unwrap_model(model))


class TimeBudget:
    """A wall-clock budget of ``minutes`` (None: none) started now: its spent fraction and
    whether it is over."""

    def __init__(self, minutes: float | None) -> None:
        self.started = time.time()
        self.seconds = None if minutes is None else 60.0 * minutes

    def elapsed(self) -> float:
        return time.time() - self.started

    def fraction(self) -> float:
        return 0.0 if self.seconds is None else self.elapsed() / self.seconds

    def spent(self) -> bool:
        return self.seconds is not None and self.elapsed() > self.seconds


def finite_or_raise(loss: torch.Tensor, what: str, step: int) -> float:
    value = float(loss.detach())
    if not math.isfinite(value):
        raise AvgenError(f"{what} loss became {value} at step {step}; lower --lr and resume.")
    return value


# ----------------------------------------------------------------------------- the loop

# Set by SIGTERM/SIGINT handlers: every loop stops at its next log step and saves.
STOP = {"requested": False}


def request_stop(signum: int, frame: Any) -> None:
    """Signal handler: ask the running loop to stop and save at its next log step."""
    STOP["requested"] = True


def make_accelerator(mixed_precision: str | None = None, cpu: bool | None = None) -> Any:
    """Accelerate for a trainer, with the given mixed precision; on the CPU when there is no
    CUDA (or ``cpu``), where ``cpu=True`` lets torchrun-style launches with WORLD_SIZE > 1 run
    DDP over gloo."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    ddp = DistributedDataParallelKwargs(find_unused_parameters=False)
    cpu = not torch.cuda.is_available() if cpu is None else cpu
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision, kwargs_handlers=[ddp])


@dataclass
class LoopRun:
    """One component's run in progress: what the loop's steps share."""

    name: str
    model: Any
    opt: Any
    averager: EMA | None
    gen: torch.Generator
    ckpt: Checkpointer
    on_save: Any
    step: int = 0
    clock: float = 0.0  # the time budget's spent fraction, agreed at the last log step
    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0


def cached_tensors(
    accelerator: Any, path: Path, make: Callable[[], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """The tensors stored at ``path`` (a cache file whose name holds its key); when it is
    missing the main process runs ``make()`` first and writes it under a temporary name, and the
    other processes then read it."""
    with accelerator.main_process_first():
        if not path.is_file():
            tensors = {k: v.contiguous() for k, v in make().items()}
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path(path)
            save_file(tensors, str(tmp))
            os.replace(tmp, path)
    return load_file(str(path))


class ComponentLoop:
    """One component's training loop under Accelerate, shared by the audio, video and LoRA
    trainers.

    A subclass sets ``acc``, ``main``, ``out``, ``args`` (seed, resume, log_every,
    checkpoint_every), ``steps``, ``lr``, ``batch``, ``minutes``, ``options``, ``log``,
    ``quiet`` and ``data`` (``data.n`` items). Step ``k`` trains on ``batch_indices(name, k)``
    with every random generator reseeded for ``k`` (``avgen.train.streams``): a checkpoint
    needs no random state, and a resumed run continues the uninterrupted run's stream.
    """

    acc: Any
    main: bool
    out: Path
    args: Any
    steps: dict[str, int]
    lr: dict[str, float]
    batch: dict[str, int]
    minutes: dict[str, float | None]
    options: LoopOptions
    log: LossLog
    quiet: bool

    def setup(self, args: Any, components: tuple, defaults: dict, tiny: dict) -> None:
        """Accelerate (``make_accelerator``), per-component steps / batch / lr / time limits
        from the command line (``defaults``: {"steps": ..., "batch": ..., "lr": ...}), the
        recipe options, model configs and the loss log: what every trainer sets first."""
        self.args = args
        self.options = loop_options(args)
        self.acc = make_accelerator(self.options.mixed_precision)
        self.main = self.acc.is_main_process
        self.out = args.out
        self.steps = per_component(args.steps, defaults["steps"], int, "--steps", components)
        self.batch = per_component(
            args.batch_size, defaults["batch"], int, "--batch-size", components
        )
        self.lr = per_component(args.lr, defaults["lr"], float, "--lr", components)
        self.minutes = per_component(
            args.max_minutes, dict.fromkeys(components), float, "--max-minutes", components
        )
        self.configs = model_configs(args, components, tiny)
        self.log = LossLog(self.out / "train_log.jsonl", enabled=self.main)
        self.quiet = args.quiet or not self.main

    def batch_indices(self, name: str, step: int) -> torch.Tensor:
        """The (B,) data indices of ``step`` for this process: a function of (seed, step)."""
        return batch_at(
            self.data.n,
            self.batch[name],
            self.args.seed,
            step,
            self.acc.process_index,
            self.acc.num_processes,
        )

    def run_loop(
        self,
        name: str,
        model: torch.nn.Module,
        loss_fn: Any,
        *,
        ema: bool = False,
        on_save: Any = None,
    ) -> tuple[torch.nn.Module, EMA | None, int]:
        """loss_fn(model, idx, gen) -> {"total": ..., other scalars}; returns the unwrapped
        model, its EMA and the step reached. ``on_save(model, ema, step)`` after checkpoints.
        Stops at ``steps``, or at the first log step after the time budget is spent or a
        SIGTERM, and saves."""
        steps = self.steps[name]
        run = self._start_run(name, model, ema, on_save)
        bar = progress(steps, run.step, f"train {name}", self.quiet)
        budget = TimeBudget(self.minutes[name])
        while run.step < steps:
            self._train_step(run, loss_fn, self.batch_indices(name, run.step))
            bar.update(1)
            if run.step % self.args.log_every == 0 or run.step == steps:
                self._log_losses(run, bar, budget)
                if self._sync_clock(run, budget):
                    break
            if run.step % self.args.checkpoint_every == 0:
                self._save(run)
        bar.close()
        if run.step % self.args.checkpoint_every:
            self._save(run)
        return self.acc.unwrap_model(run.model), run.averager, run.step

    def _start_run(self, name: str, model: nn.Module, ema: bool, on_save: Any) -> LoopRun:
        """Optimizer, EMA and grad scaler, restored from the last checkpoint when resuming
        (the loss log rewound to its step), and the model and optimizer prepared by
        Accelerate. The loop's generator is reseeded at every step."""
        opt = make_optimizer(model.parameters(), self.lr[name])
        averager = EMA(model, max_decay=self.options.ema_max_decay) if ema else None
        ckpt = Checkpointer(self.out / "checkpoints" / name)
        run = LoopRun(name, model, opt, averager, torch.Generator(), ckpt, on_save)
        state = run.ckpt.load() if self.args.resume else None
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if averager is not None and "ema" in state:
                averager.load_state_dict(state["ema"])
            run.step = int(state["step"])
            run.sums = {k: float(v) for k, v in state.get("log_sums", {}).items()}
            run.count = int(state.get("log_count", 0))
            if self.main and not self.quiet:
                print(f"[{name}] resuming from step {run.step}", file=sys.stderr)
        if self.main:
            self.log.rewind(name, run.step)
        run.model, run.opt = self.acc.prepare(model, opt)
        scaler = getattr(self.acc, "scaler", None)
        if state is not None and scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        return run

    def _train_step(self, run: LoopRun, loss_fn: Any, idx: torch.Tensor) -> None:
        """One optimizer step at the scheduled learning rate; the losses are summed for the log."""
        steps = self.steps[run.name]
        progress_made = max(run.step / steps, run.clock)
        lr = scheduled_lr(
            self.lr[run.name],
            run.step,
            self.options.warmup_steps(steps),
            self.options.schedule,
            progress_made,
            self.options.min_lr_ratio,
        )
        set_lr(run.opt, lr)
        reseed_step(run.gen, self.args.seed, run.name, run.step, self.acc.process_index)
        run.model.train()
        losses = loss_fn(run.model, idx, run.gen)
        optimizer_step(self.acc, run.model, run.opt, losses["total"], run.averager)
        run.step += 1
        for k, v in losses.items():
            run.sums[k] = run.sums.get(k, 0.0) + finite_or_raise(v, run.name, run.step)
        run.count += 1

    def _log_losses(self, run: LoopRun, bar: tqdm, budget: TimeBudget) -> None:
        """The mean losses since the last log line: in the progress bar and the loss log."""
        means = {k: round(v / run.count, 5) for k, v in run.sums.items()}
        bar.set_postfix(loss=f"{means['total']:.4f}")
        self.log.write(
            {
                "component": run.name,
                "step": run.step,
                "lr": run.opt.param_groups[0]["lr"],
                "elapsed_s": round(budget.elapsed(), 1),
                **means,
            }
        )
        run.sums, run.count = {}, 0

    def _sync_clock(self, run: LoopRun, budget: TimeBudget) -> bool:
        """Whether to stop (time budget spent or SIGTERM/SIGINT) and the budget's spent
        fraction (for the cosine schedule), both agreed by every process: the main process
        decides."""
        from accelerate.utils import broadcast

        stop = budget.spent() or STOP["requested"]
        flag = torch.tensor([float(stop), budget.fraction()], dtype=torch.float64)
        if self.acc.num_processes > 1:
            flag = broadcast(flag.to(self.acc.device), from_process=0).cpu()
        run.clock = float(flag[1])
        return bool(flag[0].item())

    def _save(self, run: LoopRun) -> None:
        """A checkpoint (model, optimizer, EMA, grad scaler, the loss sums since the last log
        line) and ``on_save``, by the main process; every process waits for it. No random
        state: every step reseeds its generators (``avgen.train.streams``)."""
        if self.main:
            inner = self.acc.unwrap_model(run.model)
            raw = run.opt.optimizer if hasattr(run.opt, "optimizer") else run.opt
            payload = {
                "model": inner.state_dict(),
                "optimizer": raw.state_dict(),
                "log_sums": dict(run.sums),
                "log_count": run.count,
            }
            if run.averager is not None:
                payload["ema"] = run.averager.state_dict()
            scaler = getattr(self.acc, "scaler", None)
            if scaler is not None:
                payload["scaler"] = scaler.state_dict()
            run.ckpt.save(run.step, payload)
            if run.on_save is not None:
                run.on_save(inner, run.averager, run.step)
        self.acc.wait_for_everyone()

    def finish(
        self, name: str, model: torch.nn.Module, step: int, extra: dict | None = None
    ) -> None:
        """Save the finished component and mark it done (resume then skips it)."""
        if self.main:
            model.save_pretrained(self.out / name)
            Checkpointer(self.out / "checkpoints" / name).mark_done(step, extra)
            self.log.write({"component": name, "done": True, "step": step, **(extra or {})})
        self.acc.wait_for_everyone()

    def run_with_ema(
        self,
        name: str,
        model: nn.Module,
        loss_fn: Any,
        build: Any,
        after_save: Any = None,
    ) -> None:
        """``run_loop`` with EMA for component ``name``: every checkpoint also saves the EMA
        weights as OUT/``name`` (in a fresh ``build()`` model; then ``after_save()``), so a
        running job leaves a usable model; the finished EMA model is saved by ``finish``."""

        def export(inner: nn.Module, averager: EMA | None, step: int) -> None:
            copy = build()
            copy.load_state_dict(inner.state_dict())
            if averager is not None:
                averager.copy_to(copy)
            copy.save_pretrained(self.out / name)
            if after_save is not None:
                after_save()

        model, averager, step = self.run_loop(name, model, loss_fn, ema=True, on_save=export)
        if averager is not None:
            averager.copy_to(model)
        self.finish(name, model, step, {"ema_decay": averager.decay() if averager else None})

    def run_components(self, components: list[str], facts: dict) -> bool:
        """Train ``components`` in order (``train_<name>``), skipping finished ones and stopping
        after a stop request; the main process then writes OUT/train_args.json (the data
        folder, ``facts`` and the run's settings). True on the main process, which writes the
        folder's other files before ``self.acc.wait_for_everyone()``."""
        for name in components:
            if self.already_done(name):
                if self.main and not self.quiet:
                    msg = f"[{name}] already trained in {self.out / name}; skipped"
                    print(msg, file=sys.stderr)
                continue
            getattr(self, f"train_{name}")()
            if STOP["requested"]:
                break
        if self.main:
            info = {
                "data": str(self.args.data),
                **facts,
                "components": components,
                "processes": self.acc.num_processes,
                "mixed_precision": self.acc.mixed_precision,
                "recipe": asdict(self.options),
                "argv": sys.argv,
            }
            (self.out / "train_args.json").write_text(json.dumps(info, indent=2) + "\n")
        return self.main

    def already_done(self, name: str) -> bool:
        """Resume skips a finished component unless more steps are asked for than it ran."""
        done = Checkpointer(self.out / "checkpoints" / name).done()
        return bool(
            self.args.resume
            and done is not None
            and int(done.get("step", 0)) >= self.steps[name]
            and (self.out / name / "config.json").is_file()
        )


def load_matching(model: torch.nn.Module, weights: dict, folder: Path, what: str) -> None:
    """``--init-from``: load ``weights`` (the source model's state dict) into ``model``. Weights
    the source lacks (new inputs, zero-initialised) keep their initialisation; a source weight
    that does not fit ``model`` (another size) is refused, naming ``what`` was built."""
    own = model.state_dict()
    shared = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if len(shared) < len(weights):
        raise AvgenError(
            f"--init-from {folder}: {len(weights) - len(shared)} of its weights do not fit "
            f"this {what}'s configuration; give the same sizes in --config."
        )
    model.load_state_dict({**own, **shared})
