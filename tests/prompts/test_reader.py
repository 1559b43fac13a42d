"""The open-vocabulary reader, the canonical rewrite and the wording-aware linter (issue 14)."""

from __future__ import annotations

import pytest

from avgen import api
from avgen.errors import AvgenError
from avgen.prompts import lint_prompt, parse_prompt, reader
from avgen.prompts.lexicon import LEXICON


def test_paraphrase_is_read_with_its_match_and_score() -> None:
    p = parse_prompt("a ruby three-sided wedge heading toward the left edge")
    assert len(p.objects) == 1  # "three-sided wedge" is one triangle, not three objects
    o = p.objects[0]
    assert (o.count, o.colour, o.shape, o.motion, o.direction) == (
        1,
        "red",
        "triangle",
        "move",
        "left",
    )
    ruby = next(r for r in p.read_phrases if r["phrase"] == "ruby")
    assert (ruby["category"], ruby["key"], ruby["rewrite"]) == ("colour", "red", "red")
    assert reader.THRESHOLD <= ruby["score"] <= 1.0
    assert "edge" in p.unknown_words and "ruby" not in p.unknown_words
    assert p.recognised


def test_vocabulary_only_parse_keeps_paraphrases_unknown() -> None:
    p = parse_prompt("a ruby wedge", read=False)
    assert p.objects == [] and p.unknown_words == ["ruby", "wedge"] and p.read_phrases == []


def test_unmatched_words_stay_unknown_and_nothing_is_recognised() -> None:
    p = parse_prompt("qwerty zzz")
    assert p.unknown_words == ["qwerty", "zzz"] and p.read_phrases == []
    assert not p.recognised and p.rewritten == "qwerty zzz" and p.kind is None


def test_threshold_decides_what_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "THRESHOLD", 1.01)  # no cosine reaches it
    p = parse_prompt("a ruby ball")
    assert p.read_phrases == [] and p.unknown_words == ["ruby"]
    assert p.objects[0].colour is None


def test_prompt_in_the_vocabulary_never_loads_the_encoder(monkeypatch) -> None:
    def refuse(texts):
        raise AssertionError(f"the encoder was asked for {texts}")

    monkeypatch.setattr(reader, "_encode", refuse)
    p = parse_prompt("two red balls bouncing on a grass field, cinematic, 4 seconds")
    assert p.objects[0].colour == "red" and p.rewritten == p.text
    assert lint_prompt("a red ball bouncing on a grass field, cinematic").missing == []


def test_reader_never_gives_counts_hints_or_raga_words() -> None:
    categories = {c for rs in reader._index().readings for c, _ in rs}
    assert not categories & {"count", "hint", "raga", "raga_words"}
    assert {"colour", "shape", "motion", "instruments", "register", "tempo_class"} <= categories


def test_candidates_are_runs_of_unknown_words() -> None:
    tokens = "a ruby very big wedge of shiny glass".split()
    stop = frozenset({"a", "very", "of"})
    spans = reader.candidates(tokens, [1, 4, 6, 7], stop)
    assert (1, 1) in spans and (6, 2) in spans and (4, 3) in spans  # "wedge of shiny"
    assert all(tokens[s] not in stop and tokens[s + n - 1] not in stop for s, n in spans)
    assert max(n for _, n in spans) <= reader.MAX_NGRAM
    assert reader.candidates(tokens, [], stop) == []


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("a ball floating", lambda p: p.objects[0].motion == "rise"),
        ("a red ball moving downward", lambda p: p.objects[0].direction == "down"),
        ("a blue cube descending", lambda p: p.objects[0].motion == "fall"),
        ("a descending piano line", lambda p: p.pitch_direction == "falling" and p.kind == "audio"),
        ("rock guitar with drums", lambda p: p.drums == "rock beat"),
        ("jazz trio with drums", lambda p: p.drums == "swing"),
        ("a three-sided shape", lambda p: all(o.count == 1 for o in p.objects)),
    ],
)
def test_words_the_parser_missed(text: str, check) -> None:
    assert check(parse_prompt(text, read=False)), parse_prompt(text, read=False)


def test_rewrite_is_in_the_vocabulary_and_parses_alike() -> None:
    for text in (
        "a lavender cube-shaped block travelling down",
        "a ruby three-sided wedge heading toward the left edge",
        "gloomy violoncello triads, treble and languid, 3 seconds at 70 BPM",
    ):
        p = parse_prompt(text)
        again = parse_prompt(p.rewritten, read=False)
        assert again.unknown_words == [], (p.rewritten, again.unknown_words)
        assert [(o.colour, o.shape, o.motion) for o in again.objects] == [
            (o.colour, o.shape, o.motion) for o in p.objects
        ]
        assert (again.register, again.tempo_class, again.instruments) == (
            p.register, p.tempo_class, p.instruments,
        )  # fmt: skip
        assert (again.duration_s, again.tempo_bpm) == (p.duration_s, p.tempo_bpm)
    assert parse_prompt("gloomy violoncello, 3 seconds at 70 BPM").rewritten.endswith(
        "3 seconds at 70 BPM"
    )


def test_rewrite_drops_unknown_words_with_their_articles() -> None:
    p = parse_prompt("A cat chasing a laser pointer for 10 seconds in slow motion", read=False)
    assert p.rewritten == "for 10 seconds in slow motion"
    assert parse_prompt("a sage ball").rewritten.startswith("a ")


def test_hostile_input_to_the_reader() -> None:
    long = " ".join(f"word{i}" for i in range(reader.MAX_READ * 3))
    p = parse_prompt(long)
    assert len(p.unknown_words) == reader.MAX_READ * 3  # read at most MAX_READ, keep the rest
    with pytest.raises(AvgenError, match="string"):
        parse_prompt(None)  # type: ignore[arg-type]
    with pytest.raises(AvgenError, match="empty"):
        api.parse_prompt("   ")
    with pytest.raises(AvgenError, match="read must be True or False"):
        api.parse_prompt("a ball", read="yes")  # type: ignore[arg-type]
    assert parse_prompt("ÉCLAIR İstanbul ball").rewritten  # lower() changes the length


# ----------------------------------------------------------------------------- linter

LESSON = (
    "Aerial drone shot of Tokyo at dusk, bustling streets with neon lights flickering, cinematic 4K"
)


def test_lesson_example_is_complete_and_kept() -> None:
    report = lint_prompt(LESSON)
    assert report.kind == "video" and report.missing == [], report.layers
    assert report.suggestion == LESSON


def test_layers_from_the_wording() -> None:
    assert lint_prompt("A golden retriever running through a sunflower field, handheld camera",
                       kind="video").missing == []  # fmt: skip
    assert lint_prompt("a paper boat", kind="video").layers["style/camera"] is False
    # "boat" read as "sea" (scene or ocean waves) takes the side "sea" has alone: video
    assert lint_prompt("a paper boat").kind == "video"
    music = lint_prompt("Melancholic harmonica ballad", kind="audio")
    assert music.layers == {"genre/mood": True, "details": True, "length/tempo": False}
    assert lint_prompt("a 15 second loop", kind="audio").layers["length/tempo"]
    # words the reader leaves to the motion planner still fill the motion layer
    assert lint_prompt("a hummingbird hovering", kind="video").layers["motion"]
    assert lint_prompt("two trucks crashing", kind="video").layers["motion"]


def test_suggestion_keeps_content_and_adds_only_missing_layers() -> None:
    report = lint_prompt("a paper boat", kind="video")
    assert "a paper boat" in report.suggestion.lower()
    assert "ball" not in report.suggestion  # no new object
    again = lint_prompt(report.suggestion, kind="video")
    assert again.missing == [], (report.suggestion, again.layers)


def test_model_specific_warnings_are_separate(tmp_path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# m\n\n## Vocabulary\nred, ball, bouncing\n", encoding="utf-8")
    report = lint_prompt("a crimson ball bouncing on a lawn", model_dir=tmp_path)
    assert report.model_card == str(card)
    assert "crimson" in report.ignored_words and "ball" not in report.ignored_words
    read = lint_prompt("a ruby ball bouncing", model_dir=tmp_path)
    assert read.ignored_words == [] and read.read_phrases[0]["rewrite"] == "red"
    assert "ruby -> red" in read.format()
    plain = lint_prompt("a crimson ball bouncing on a lawn")
    assert plain.ignored_words is None and plain.model_card is None


def test_lexicon_lists_the_new_words() -> None:
    for words in (("downward",), ("descending",), ("drums",), ("floating",)):
        assert words in LEXICON


def test_planner_words_are_left_to_the_planner() -> None:
    from avgen.plan import physics

    assert physics._COLLIDE_WORDS | physics._ONTO_WORDS <= reader.PLANNER_WORDS
    p = parse_prompt("a red ball and a blue ball colliding")
    assert [o.motion for o in p.objects] == [None, None] and p.read_phrases == []


def test_vocabulary_prompts_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from avgen.prompts import lint_prompt, parse_prompt\n"
        "parse_prompt('two red balls bouncing on a grass field, 4 seconds')\n"
        "lint_prompt('a red ball bouncing on a grass field, cinematic')\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
