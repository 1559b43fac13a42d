"""Benchmark the prompt reader, the canonical rewrite and the linter (issue 14).

Parts (``--part``):
- ``reader``: attribute accuracy of ``parse_prompt`` on benchmarks/sets/paraphrases.jsonl, per
  split, without the reader (``read=False``), with it, and on the canonical wording; with
  ``--sweep`` also the accuracy on the tune half for a range of thresholds (how THRESHOLD was
  chosen);
- ``linter``: layer accuracy of ``lint_prompt`` on benchmarks/sets/open_prompts.jsonl;
- ``models``: the shipped models on report-half paraphrases: canonical wording, paraphrase
  as written (``rewrite=False``) and paraphrase rewritten (the default); video colour and shape
  (``avgen.worlds.video_checks``), audio register and tempo (``avgen.worlds.audio_checks``);
  default sampler settings, plans as ``avgen video`` / ``avgen audio`` make them.

Usage: ``python benchmarks/prompt_reader.py --part reader --sweep`` (prints Markdown rows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

SETS = Path(__file__).with_name("sets")


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (SETS / name).read_text().splitlines() if line.strip()]


def attributes(parsed) -> dict[str, str]:
    """The benchmark's attributes of a ParsedPrompt: the first object's, scene and music."""
    out: dict[str, str] = {}
    if parsed.objects:
        o = parsed.objects[0]
        for k in ("colour", "shape", "motion", "direction", "size"):
            if getattr(o, k):
                out[k] = getattr(o, k)
    if parsed.scene:
        out["scene"] = parsed.scene
    if parsed.instruments:
        out["instrument"] = parsed.instruments[0]
    if parsed.patterns:
        out["pattern"] = parsed.patterns[0]
    for k in ("mode", "register", "tempo_class"):
        if getattr(parsed, k):
            out[k] = getattr(parsed, k)
    return out


def reader_accuracy(rows: list[dict], field: str, read: bool) -> dict[str, list[int]]:
    """attribute -> [hits, total] over ``rows`` parsing ``row[field]``."""
    from avgen.prompts import parse_prompt

    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        got = attributes(parse_prompt(row[field], read=read))
        for k, v in row["expected"].items():
            tally[k][0] += got.get(k) == v
            tally[k][1] += 1
    return dict(tally)


_ATTR = {"verb": "motion", "instruments": "instrument", "patterns": "pattern"}


def read_precision(rows: list[dict]) -> tuple[int, int]:
    """(right, all) of the reader's matches over ``rows``: a match is right when its reading is
    one of the prompt's expected attributes with the expected value."""
    from avgen.prompts import parse_prompt

    right = n = 0
    for row in rows:
        for r in parse_prompt(row["prompt"]).read_phrases:
            attr = _ATTR.get(r["category"], r["category"])
            right += row["expected"].get(attr) == r["key"]
            n += 1
    return right, n


def total(t: dict[str, list[int]]) -> tuple[int, int]:
    return sum(h for h, _ in t.values()), sum(n for _, n in t.values())


def fmt(hit: int, n: int) -> str:
    return f"{100.0 * hit / n:.1f} % ({hit}/{n})" if n else "-"


def part_reader(sweep: bool) -> list[str]:
    from avgen.prompts import reader

    rows = load("paraphrases.jsonl")
    lines = []
    if sweep:
        # The anchors hold tune-half words, so the threshold is chosen without them: the
        # tune half then measures how far the vocabulary's own phrases carry a new word.
        tune = [r for r in rows if r["split"] == "tune"]
        lines += ["| threshold | tune-half accuracy, vocabulary phrases only (no anchors) "
                  "| precision of the reader's matches | F0.5 |", "|---|---|---|---|"]  # fmt: skip
        saved = reader.THRESHOLD, reader.ANCHORS
        reader.ANCHORS, reader._INDEX = {}, None
        for th in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
            reader.THRESHOLD = th
            hit, n = total(reader_accuracy(tune, "prompt", True))
            right, reads = read_precision(tune)
            rec, prec = hit / n, right / max(reads, 1)
            f05 = 1.25 * prec * rec / max(0.25 * prec + rec, 1e-9)  # precision weighs twice
            lines.append(f"| {th:.2f} | {fmt(hit, n)} | {fmt(right, reads)} | {f05:.3f} |")
        (reader.THRESHOLD, reader.ANCHORS), reader._INDEX = saved, None
        lines.append("")
    for split in ("tune", "report"):
        part = [r for r in rows if r["split"] == split]
        cols = {
            "vocabulary only": reader_accuracy(part, "prompt", False),
            "with the reader": reader_accuracy(part, "prompt", True),
            "canonical wording": reader_accuracy(part, "canonical", False),
        }
        lines += [f"{split} half ({len(part)} prompts):", ""]
        lines += ["| attribute | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for attr in sorted(cols["canonical wording"]):
            lines.append(f"| {attr} | " + " | ".join(fmt(*c[attr]) for c in cols.values()) + " |")
        lines.append("| all | " + " | ".join(fmt(*total(c)) for c in cols.values()) + " |")
        lines.append("")
    return lines


def part_linter() -> list[str]:
    from avgen.prompts import lint_prompt

    rows = load("open_prompts.jsonl")
    lines = []
    misses = []
    for split in ("tune", "report", "all"):
        part = [r for r in rows if split in ("all", r["split"])]
        hit = n = whole = 0
        for row in part:
            report = lint_prompt(row["prompt"], kind=row["kind"])
            ok = [report.layers[k] == v for k, v in row["layers"].items()]
            hit += sum(ok)
            n += len(ok)
            whole += all(ok)
            if split == "all" and not all(ok):
                wrong = [k for k, v in row["layers"].items() if report.layers[k] != v]
                misses.append(f'- {row["id"]} ({row["split"]}) "{row["prompt"]}": {wrong}')
        lines.append(f"| {split} | {len(part)} | {fmt(hit, n)} | {fmt(whole, len(part))} |")
    head = [
        "| split | prompts | layer accuracy | prompts with every layer right |",
        "|---|---|---|---|",
    ]
    return head + lines + ["", "Prompts with a layer judged wrong:", "", *misses, ""]


def part_models(count: int, seconds: float) -> list[str]:
    import torch

    from avgen import api
    from avgen.pipelines.text_to_audio import TextToAudioPipeline
    from avgen.pipelines.text_to_video import TextToVideoPipeline
    from avgen.prompts import parse_prompt
    from avgen.worlds.audio_checks import check_audio
    from avgen.worlds.video_checks import check_video

    torch.set_num_threads(1)
    rows = [r for r in load("paraphrases.jsonl") if r["split"] == "report"]
    video = [r for r in rows if r["kind"] == "video"][:count]
    audio = [r for r in rows if r["kind"] == "audio"][:count]
    conditions = ("canonical", "paraphrase, no rewrite", "paraphrase, rewritten")
    lines = []
    t0 = time.time()

    def text_for(row: dict, cond: str) -> tuple[str, str]:
        """(prompt the plan is made from, text condition of the model)."""
        if cond == "canonical":
            return row["canonical"], row["canonical"]
        rewritten = parse_prompt(row["prompt"]).rewritten
        return row["prompt"], rewritten if cond.endswith("rewritten") else row["prompt"]

    vpipe = TextToVideoPipeline.from_pretrained(None)
    fps = int(vpipe.config["fps"])
    vt: dict[str, dict[str, list[int]]] = {c: defaultdict(lambda: [0, 0]) for c in conditions}
    for i, row in enumerate(video):
        expected = parse_prompt(row["canonical"], read=False).to_dict()
        for cond in conditions:
            plan_prompt, text = text_for(row, cond)
            plan = api.resolve_motion_plan(
                vpipe.follows_plans, plan_prompt, None, None, seconds, i, (fps, 64, 64)
            ).plan
            out = vpipe(text, num_frames=round(seconds * fps),
                        generator=torch.Generator().manual_seed(i), motion_plan=plan)  # fmt: skip
            report = check_video(out.frames, fps, expected)
            for key, entry in report.items():
                attr = key.split(".")[-1]
                if attr in ("colour", "shape") and entry.get("match") is not None:
                    vt[cond][attr][0] += bool(entry["match"])
                    vt[cond][attr][1] += 1
        print(f"video {i + 1}/{len(video)} {time.time() - t0:.0f} s {dict(vt)}", file=sys.stderr)
    apipe = TextToAudioPipeline.from_pretrained(None)
    at: dict[str, dict[str, list[int]]] = {c: defaultdict(lambda: [0, 0]) for c in conditions}
    for i, row in enumerate(audio):
        expected = parse_prompt(row["canonical"], read=False).to_dict()
        for cond in conditions:
            plan_prompt, text = text_for(row, cond)
            plan = api.resolve_note_plan(
                apipe.follows_plans, plan_prompt, None, None, None, None, 4.0, i
            ).plan
            out = apipe(text, audio_length_in_s=4.0, generator=torch.Generator().manual_seed(i),
                        note_plan=plan)  # fmt: skip
            report = check_audio(out.audio, 16000, expected)
            for key, entry in report.items():
                attr = key.split(".")[-1]
                if attr in ("register", "tempo_class") and entry.get("match") is not None:
                    at[cond][attr][0] += bool(entry["match"])
                    at[cond][attr][1] += 1
        print(f"audio {i + 1}/{len(audio)} {time.time() - t0:.0f} s {dict(at)}", file=sys.stderr)
    lines += ["| model, attribute | " + " | ".join(conditions) + " |", "|---|---|---|---|"]
    for name, tally, attrs in (("video", vt, ("colour", "shape")),
                               ("audio", at, ("register", "tempo_class"))):  # fmt: skip
        for attr in attrs:
            cells = [fmt(*tally[c][attr]) for c in conditions]
            lines.append(f"| {name} {attr} | " + " | ".join(cells) + " |")
    wall = time.time() - t0
    lines += ["", f"{len(video)} video ({seconds:g} s) + {len(audio)} audio (4 s) prompts, "
              f"3 conditions each; wall {wall:.0f} s on 1 torch thread.", ""]  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("reader", "linter", "models"), required=True)
    p.add_argument("--sweep", action="store_true", help="reader: threshold sweep on tune half")
    p.add_argument("--count", type=int, default=40, help="models: prompts per medium")
    p.add_argument("--video-seconds", type=float, default=2.0, help="models: video clip length")
    args = p.parse_args(argv)
    if args.part == "reader":
        lines = part_reader(args.sweep)
    elif args.part == "linter":
        lines = part_linter()
    else:
        lines = part_models(args.count, args.video_seconds)
    cmd = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    print(f"Command: `{cmd}`\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
