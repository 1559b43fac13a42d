"""Tests for avgen.media: audio/video/image writers and readers, atomic writes, spectrograms."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avgen import media
from avgen.errors import AvgenError


def sine(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(audio: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spec) * sr / len(audio))


def smooth_frames(n: int, h: int, w: int) -> np.ndarray:
    """A moving colour gradient: easy to compress, so decoded pixels stay close."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        out[i, ..., 0] = (x * 255 // max(1, w - 1) + 8 * i) % 256
        out[i, ..., 1] = y * 255 // max(1, h - 1)
        out[i, ..., 2] = 128
    return out


def distinct_frames(n: int, h: int = 12, w: int = 20) -> np.ndarray:
    return np.stack([np.full((h, w, 3), (i * 37) % 256, np.uint8) for i in range(n)])


# ------------------------------------------------------------------ atomic writes


def test_atomic_output_renames_and_keeps_extension(tmp_path):
    target = tmp_path / "out.wav"
    with media.atomic_output(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".out.tmp-") and tmp.suffix == ".wav"
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data"
    assert os.listdir(tmp_path) == ["out.wav"]


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), media.atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert os.listdir(tmp_path) == []


def test_atomic_output_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(ValueError), media.atomic_output(target) as tmp:
        tmp.write_text("new")
        raise ValueError
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_writer_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_encode(self, frame=None):
        raise RuntimeError("encoder died")

    import av.video.stream

    monkeypatch.setattr(av.video.stream.VideoStream, "encode", broken_encode)
    with pytest.raises(RuntimeError):
        media.write_mp4(tmp_path / "v.mp4", smooth_frames(4, 16, 16), 8)
    assert os.listdir(tmp_path) == []


def test_check_writable_missing_folder(tmp_path):
    with pytest.raises(AvgenError, match="does not exist"):
        media.check_writable(tmp_path / "nope" / "out.wav")
    with pytest.raises(AvgenError, match="does not exist"):
        media.write_audio(tmp_path / "nope" / "out.wav", sine(440, 16000, 0.1), 16000)


def test_check_writable_parent_is_a_file(tmp_path):
    (tmp_path / "some_file.txt").write_text("x")
    with pytest.raises(AvgenError, match="not a folder"):
        media.check_writable(tmp_path / "some_file.txt" / "out.wav")


def test_check_writable_target_is_a_folder(tmp_path):
    with pytest.raises(AvgenError, match="is a folder"):
        media.check_writable(tmp_path)


def test_check_writable_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(AvgenError, match="not writable"):
            media.check_writable(ro / "out.wav")
    finally:
        ro.chmod(0o755)


def test_check_writable_ok(tmp_path):
    media.check_writable(tmp_path / "fine.wav")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ audio


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg"])
@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_audio_round_trip(tmp_path, ext, sr):
    audio = sine(440.0, sr, 0.5)
    path = media.write_audio(tmp_path / f"a{ext}", audio, sr)
    assert path == tmp_path / f"a{ext}"
    back, sr_back = media.read_audio(path)
    assert sr_back == sr and back.dtype == np.float32 and back.ndim == 1
    assert abs(len(back) - len(audio)) <= (0 if ext != ".ogg" else 64)
    assert abs(peak_hz(back, sr) - 440.0) < 3.0
    if ext != ".ogg":  # lossless 16-bit PCM
        np.testing.assert_allclose(back, audio, atol=1.5 / 32768)


@pytest.mark.parametrize("sr_in,sr_out", [(16000, 22050), (44100, 16000), (16000, 48000)])
def test_write_with_resampling_keeps_frequency(tmp_path, sr_in, sr_out):
    audio = sine(1000.0, sr_in, 0.5)
    path = media.write_audio(tmp_path / "r.wav", audio, sr_in, sample_rate=sr_out)
    back, sr_back = media.read_audio(path)
    assert sr_back == sr_out
    assert abs(len(back) - round(len(audio) * sr_out / sr_in)) <= 1
    assert abs(peak_hz(back, sr_out) - 1000.0) < 3.0


def test_read_with_resampling_and_stereo(tmp_path):
    stereo = np.stack([sine(440, 16000, 0.5), sine(880, 16000, 0.5)])  # (2, T)
    path = media.write_audio(tmp_path / "s.flac", stereo, 16000)
    both, sr = media.read_audio(path, mono=False)
    assert both.shape == (2, 8000) and sr == 16000
    assert abs(peak_hz(both[1], sr) - 880) < 3
    mono, sr = media.read_audio(path, sr=8000)
    assert mono.shape == (4000,) and sr == 8000


def test_resample_function():
    audio = sine(300.0, 16000, 1.0)
    out = media.resample(audio, 16000, 24000)
    assert out.shape == (24000,) and out.dtype == np.float32
    assert abs(peak_hz(out, 24000) - 300.0) < 2.0
    np.testing.assert_array_equal(media.resample(audio, 16000, 16000), audio)
    with pytest.raises(AvgenError):
        media.resample(audio, 0, 16000)


def test_write_audio_clips_out_of_range(tmp_path):
    path = media.write_audio(tmp_path / "c.wav", np.array([2.0, -3.0, 0.5], np.float32), 8000)
    back, _ = media.read_audio(path)
    assert back.max() <= 1.0 and back.min() >= -1.0 and abs(back[2] - 0.5) < 1e-3


def test_unsupported_extension(tmp_path):
    with pytest.raises(AvgenError, match=r"'\.xyz'.*\.wav"):
        media.write_audio(tmp_path / "a.xyz", sine(440, 16000, 0.1), 16000)
    assert os.listdir(tmp_path) == []


def test_mp3_written_or_clear_error(tmp_path):
    if ".mp3" in media.supported_audio_extensions():
        path = media.write_audio(tmp_path / "a.mp3", sine(440, 16000, 0.5), 16000)
        back, sr = media.read_audio(path)
        assert sr == 16000 and abs(peak_hz(back, sr) - 440) < 5
    else:
        with pytest.raises(AvgenError, match="mp3|\\.wav"):
            media.write_audio(tmp_path / "a.mp3", sine(440, 16000, 0.5), 16000)


def test_bad_audio_inputs(tmp_path):
    with pytest.raises(AvgenError, match="NaN"):
        media.write_audio(tmp_path / "a.wav", np.array([0.0, np.nan]), 16000)
    with pytest.raises(AvgenError, match="channels"):
        media.write_audio(tmp_path / "a.wav", np.zeros((100, 2)), 16000)
    with pytest.raises(AvgenError, match="sr"):
        media.write_audio(tmp_path / "a.wav", np.zeros(10), -5)
    assert os.listdir(tmp_path) == []


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" + bytes(range(256)) * 4)
    with pytest.raises(AvgenError, match="bad.wav"):
        media.read_audio(bad)
    text = tmp_path / "notes.txt"
    text.write_text("just some words, no audio at all\n" * 20)
    with pytest.raises(AvgenError):
        media.read_audio(text)
    with pytest.raises(AvgenError):
        media.read_mp4(text)
    with pytest.raises(AvgenError):
        media.probe(text)
    with pytest.raises(AvgenError, match="does not exist"):
        media.read_audio(tmp_path / "missing.wav")


# ------------------------------------------------------------------ video


def _stream(info: dict, kind: str) -> dict:
    return next(s for s in info["streams"] if s["type"] == kind)


@pytest.mark.parametrize("audio_s", [2.5, 3.7, 1.2])  # exact, too long (trimmed), too short
def test_mp4_h264_aac_durations_match(tmp_path, audio_s):
    fps, n, sr = 8, 20, 16000
    path = media.write_mp4(
        tmp_path / "v.mp4", smooth_frames(n, 32, 48), fps, sine(440, sr, audio_s), sr
    )
    info = media.probe(path)
    video, audio = _stream(info, "video"), _stream(info, "audio")
    assert video["codec"] == "h264" and audio["codec"] == "aac"
    assert video["pix_fmt"] == "yuv420p" and (video["width"], video["height"]) == (48, 32)
    assert video["frames"] == n and video["fps"] == pytest.approx(fps)
    assert video["duration_s"] == pytest.approx(n / fps, abs=1 / fps)
    assert abs(audio["duration_s"] - video["duration_s"]) <= min(1 / fps, 0.05)
    assert audio["sample_rate"] == sr


def test_mp4_round_trip(tmp_path):
    fps, sr = 10, 16000
    frames = smooth_frames(15, 40, 64)
    path = media.write_mp4(tmp_path / "v.mp4", frames, fps, sine(500, sr, 1.5), sr)
    got, got_fps, audio, got_sr = media.read_mp4(path)
    assert got.shape == frames.shape and got.dtype == np.uint8
    assert got_fps == pytest.approx(fps)
    assert np.abs(got.astype(int) - frames).mean() < 4.0
    assert got_sr == sr and audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 1.5 * sr) <= 0.05 * sr
    assert abs(peak_hz(audio, sr) - 500) < 5
    from_mp4, sr2 = media.read_audio(path, sr=8000)
    assert sr2 == 8000 and abs(len(from_mp4) - 1.5 * 8000) <= 0.05 * 8000


def test_mp4_audio_stays_in_sync(tmp_path):
    sr, fps = 16000, 8
    audio = np.zeros(sr * 2, np.float32)
    onsets = [4000, 12000, 30000]
    for k in onsets:
        audio[k : k + 400] = 0.8 * np.sin(np.arange(400) * 0.4)
    path = media.write_mp4(tmp_path / "s.mp4", smooth_frames(16, 16, 16), fps, audio, sr)
    _, _, back, _ = media.read_mp4(path)
    loud = np.abs(back) > 0.3
    found = [int(np.argmax(loud[k - 800 :])) + k - 800 for k in onsets]
    for k, f in zip(onsets, found, strict=True):
        assert abs(f - k) <= 0.005 * sr  # within 5 ms


def test_mp4_without_audio_and_odd_sizes(tmp_path):
    path = media.write_mp4(tmp_path / "odd.mp4", smooth_frames(5, 33, 47), 12.5)
    info = media.probe(path)
    assert [s["type"] for s in info["streams"]] == ["video"]
    video = _stream(info, "video")
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0
    assert (video["width"], video["height"]) == (48, 34)
    frames, fps, audio, sr = media.read_mp4(path)
    assert frames.shape == (5, 34, 48, 3) and fps == pytest.approx(12.5)
    assert audio is None and sr == 0
    tiny = media.probe(media.write_mp4(tmp_path / "t.mp4", smooth_frames(2, 1, 1), 8))
    assert (_stream(tiny, "video")["width"], _stream(tiny, "video")["height"]) == (2, 2)


def test_mp4_stereo_audio_and_other_rate(tmp_path):
    stereo = np.stack([sine(440, 22050, 1.0), sine(660, 22050, 1.0)])
    path = media.write_mp4(tmp_path / "st.mp4", smooth_frames(8, 16, 16), 8, stereo, 22050)
    audio = _stream(media.probe(path), "audio")
    assert audio["channels"] == 2 and audio["sample_rate"] == 22050
    assert abs(audio["duration_s"] - 1.0) <= 0.05


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_mp4_with_ffprobe(tmp_path):
    path = media.write_mp4(
        tmp_path / "v.mp4", smooth_frames(12, 32, 32), 6, sine(440, 16000, 2.0), 16000
    )
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    streams = {s["codec_type"]: s for s in out["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert streams["video"]["pix_fmt"] == "yuv420p"
    dv, da = float(streams["video"]["duration"]), float(streams["audio"]["duration"])
    assert dv == pytest.approx(2.0, abs=1 / 6) and abs(dv - da) <= 0.05
    # faststart: the moov atom precedes the media data
    head = Path(path).read_bytes()
    assert head.find(b"moov") < head.find(b"mdat")


def test_video_bad_inputs(tmp_path):
    with pytest.raises(AvgenError, match="uint8"):
        media.write_mp4(tmp_path / "v.mp4", np.zeros((4, 8, 8, 3), np.float32), 8)
    with pytest.raises(AvgenError, match="fps"):
        media.write_mp4(tmp_path / "v.mp4", smooth_frames(2, 8, 8), 0)
    with pytest.raises(AvgenError, match=r"\.mp4"):
        media.write_mp4(tmp_path / "v.avi", smooth_frames(2, 8, 8), 8)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ images


def test_gif(tmp_path):
    frames = distinct_frames(7)
    path = media.write_gif(tmp_path / "a.gif", frames, fps=10)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.size == (20, 12)
        assert im.n_frames == 7 and im.info["loop"] == 0
        assert im.info["duration"] == 100


def test_contact_sheet(tmp_path):
    frames = distinct_frames(40, h=10, w=14)
    path = media.write_contact_sheet(tmp_path / "c.png", frames, columns=8, max_frames=32)
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (8 * 14 + 7 * 2, 4 * 10 + 3 * 2)
        sheet = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(sheet[:10, :14], frames[0])
    np.testing.assert_array_equal(sheet[-10:, -14:], frames[-1])  # last frame always sampled
    small = media.write_contact_sheet(tmp_path / "s.png", frames[:3], columns=8)
    with Image.open(small) as im:
        assert im.size == (3 * 14 + 2 * 2, 10)


def test_contact_sheet_marks_the_tiles_of_events(tmp_path):
    frames = np.zeros((32, 16, 16, 3), np.uint8)  # 16 tiles: frames 0, 2, 4, ...
    path = media.write_contact_sheet(tmp_path / "m.png", frames, max_frames=16, marks=[5, 31])
    with Image.open(path) as im:
        sheet = np.asarray(im.convert("RGB"))

    def bar(k):  # the bottom row of tile k (8 columns, 2 px separators)
        r, c = divmod(k, 8)
        return sheet[r * 18 + 15, c * 18 : c * 18 + 16]

    assert (bar(2) == (255, 220, 0)).all()  # tile 2 stands for frames 4 and 5
    assert (bar(15) == (255, 220, 0)).all()  # the last tile, frame 30 and 31
    assert (bar(1) == 0).all() and (bar(3) == 0).all()
    assert (sheet[:14, :16] == 0).all()  # nothing drawn above the bars


def test_upscale_frames():
    frames = smooth_frames(3, 16, 24)
    up = media.upscale_frames(frames, 64)
    assert up.shape == (3, 64, 96, 3) and up.dtype == np.uint8
    np.testing.assert_array_equal(up[:, ::4, ::4], frames)  # nearest, integer factor
    smooth = media.upscale_frames(frames, 40, method="bilinear")
    assert smooth.shape == (3, 40, 60, 3)
    assert media.upscale_frames(frames, 16) is frames
    with pytest.raises(AvgenError):
        media.upscale_frames(frames, 64, method="cubic-ish")


# ------------------------------------------------------------------ spectrograms


def test_mel_spectrogram_shape_and_peak():
    sr = 16000
    audio = sine(1000.0, sr, 1.0)
    mel = media.mel_spectrogram_np(audio, sr)
    assert mel.shape == (64, 1 + len(audio) // 160) and mel.dtype == np.float32
    assert np.all(np.isfinite(mel))
    fb = media.mel_filterbank(sr, 1024, 64)
    centres = (fb * np.arange(fb.shape[1]) * sr / 1024).sum(1) / fb.sum(1)
    band = int(np.argmax(mel[:, 10:-10].mean(axis=1)))
    assert abs(centres[band] - 1000.0) < 120.0
    silent = media.mel_spectrogram_np(np.zeros(100, np.float32), sr)
    assert silent.shape == (64, 1) and np.allclose(silent, np.log(1e-10))


def test_mel_filterbank_is_triangular_and_covers_band():
    fb = media.mel_filterbank(16000, 1024, 64)
    assert fb.shape == (64, 513) and fb.min() >= 0
    assert np.all(fb.sum(axis=1) > 0)  # no empty filter
    assert np.all(np.diff(np.argmax(fb, axis=1)) >= 0)  # centres rise with the band index


def test_spectrogram_png(tmp_path):
    sr = 16000
    audio = np.concatenate([sine(200, sr, 1.0), sine(6000, sr, 1.0)])
    path = media.write_spectrogram_png(tmp_path / "s.png", audio, sr)
    with Image.open(path) as im:
        assert im.size == (400, 256) and im.mode == "RGB"
        img = np.asarray(im).astype(float).sum(axis=2)  # brightness (256, 400)
    first, second = img[:, 20:180], img[:, 220:380]  # 200 Hz half, 6 kHz half
    assert np.argmax(first.mean(axis=1)) > 200  # low tone near the bottom
    assert np.argmax(second.mean(axis=1)) < 100  # high tone near the top
    with Image.open(media.write_spectrogram_png(tmp_path / "l.png", sine(440, sr, 7.0), sr)) as im:
        assert im.size == (700, 256)
