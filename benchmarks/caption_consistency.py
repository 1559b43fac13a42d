"""Do the worlds' captions, read by the parser, give what the world rendered?

Measures the path prompt text -> ``parse_prompt`` -> checker on world clips: every caption of
``--count`` MotionWorld clips (``check_video``) and SoundWorld clips (``check_audio``), and of
``--av-count`` AVWorld clips written as MP4 and checked through ``check_file``, the path of
``avgen eval check``. The world's own ``.expected`` is not used as the expected dict.

A caption may leave a world fact out (the terse ones name no scene, camera or time). Omitted
scene, particles, duration and tempo are simply not checked. Camera and time default to
"static" / "normal" in the parsed prompt, so a caption that omits a moving camera or a slow /
sped-up time is *underspecified*, not wrong: for MotionWorld the omitted fact is taken from the
clip (what a caller who knows the clip would pass) and its own attribute ("camera") is not
scored; for AVWorld (``check_file`` takes only the text) the caption's video attributes are not
scored. Both are counted in the "underspecified" table. Everything a caption states is scored.
AVWorld captions are also checked on the clip's own frames ("av/video-raw"), which separates
H.264 loss (a checker limit on compressed video) from the text path.

    python benchmarks/caption_consistency.py --count 200
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

from avgen.media import write_mp4
from avgen.prompts import parse_prompt
from avgen.worlds.audio_checks import check_audio
from avgen.worlds.av import render_av_clip
from avgen.worlds.checks import check_file
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.sound import render_sound_clip
from avgen.worlds.video_checks import check_video

DEFAULTS = {"camera": "static", "time": "normal"}  # parsed values when a caption says nothing
TARGET = 95.0
Stats = dict[str, list[int]]  # attribute -> [scored, matched]


def _omitted(parsed: dict, truth: dict) -> list[str]:
    """Clip-level facts the caption leaves at the parser's default while the clip differs."""
    return [k for k, d in DEFAULTS.items() if parsed.get(k) == d and truth.get(k, d) != d]


def _score(stats: Stats, fails: list, prefix: str, cap: str, report: dict, skip=()) -> None:
    for key, v in report.items():
        attr = prefix + key.split(".")[-1]
        if v.get("match") is None or key in skip:
            continue
        stats[attr][0] += 1
        stats[attr][1] += bool(v["match"])
        if not v["match"]:
            fails.append((attr, cap, v.get("expected"), v.get("measured")))


def run(count: int, av_count: int) -> tuple[Stats, collections.Counter, list, int]:
    """Score every caption of ``count`` motion / sound clips and ``av_count`` AV clips."""
    stats: Stats = collections.defaultdict(lambda: [0, 0])
    under: collections.Counter = collections.Counter()
    fails: list = []
    captions = 0
    for s in range(count):
        clip = render_motion_clip(500000 + s)
        for cap in clip.captions:
            exp = parse_prompt(cap).to_dict()
            omitted = _omitted(exp, clip.expected)
            for k in omitted:
                exp[k] = clip.expected[k]
                under[f"video: {k} omitted"] += 1
            rep = check_video(clip.frames, clip.fps, exp)
            _score(stats, fails, "video:", cap, rep, skip=omitted)
            captions += 1
        sc = render_sound_clip(600000 + s)
        for cap in sc.captions:
            _score(
                stats,
                fails,
                "audio:",
                cap,
                check_audio(sc.audio, sc.sr, parse_prompt(cap).to_dict()),
            )
            captions += 1
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(av_count):
            clip = render_av_clip(700000 + s)
            path = Path(tmp) / f"av_{s}.mp4"
            write_mp4(path, clip.frames, clip.fps, audio=clip.audio, sr=clip.sr)
            for cap in clip.captions:
                res = check_file(path, cap)
                omitted = _omitted(res["parsed"], clip.expected)
                for k in omitted:
                    under[f"av: {k} omitted (video attributes not scored)"] += 1
                if not omitted:
                    _score(stats, fails, "av/video:", cap, res["video"])
                    # the same caption on the clip's own frames: codec loss vs the text path
                    raw = check_video(clip.frames, clip.fps, res["parsed"])
                    _score(stats, fails, "av/video-raw:", cap, raw)
                _score(stats, fails, "av/audio:", cap, res["audio"])
                _score(stats, fails, "av/sync:", cap, res["av"])
                captions += 1
    return stats, under, fails, captions


def markdown(stats: Stats, under, fails, captions: int, args, wall: float) -> str:
    """The result table, the command and the wall time as markdown."""
    cmd = "python benchmarks/caption_consistency.py " + " ".join(sys.argv[1:])
    worst = min((100 * b / a for a, b in stats.values() if a), default=100.0)
    lines = [
        "# Caption -> parser -> checker consistency",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Clips: {args.count} MotionWorld (seeds 500000+), {args.count} SoundWorld (600000+), "
        f"{args.av_count} AVWorld MP4s via check_file (700000+); {captions} captions.  ",
        f"Wall time: {wall:.0f} s. Lowest agreement: {worst:.1f} % (target >= {TARGET:g} %).",
        "",
        "Every caption of every clip is parsed with `parse_prompt` and the parsed dict is the",
        "checkers' `expected`. Only measurable attributes the caption states are scored; see",
        "the script's docstring for underspecified captions.",
        "",
        "| attribute | agree | scored | % |",
        "|---|---:|---:|---:|",
    ]
    for k, (a, b) in sorted(stats.items()):
        flag = "" if 100 * b / a >= TARGET else " **below target**"
        lines.append(f"| {k} | {b} | {a} | {100 * b / a:.1f}{flag} |")
    lines += ["", "## Underspecified captions (a world fact left out)", ""]
    lines += [f"- {k}: {n} captions" for k, n in sorted(under.items())] or ["- none"]
    lines += ["", f"## Disagreements ({len(fails)}; first 30)", ""]
    for attr, cap, e, m in fails[:30]:
        lines.append(f"- {attr}: `{cap}` expected {e!r}, measured {str(m)[:100]!r}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="MotionWorld and SoundWorld clips each")
    ap.add_argument("--av-count", type=int, default=5, help="AVWorld clips checked as MP4 files")
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "caption_consistency.md")
    )
    args = ap.parse_args()
    t0 = time.time()
    stats, under, fails, captions = run(args.count, args.av_count)
    text = markdown(stats, under, fails, captions, args, time.time() - t0)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
