"""Tiny random-weight diffusers pipelines saved to a folder, for tests (no downloads).

Like diffusers' own ``get_dummy_components`` (tests/pipelines/*/test_*.py): each builder makes
every component with a handful of channels and random weights, a small tokenizer built from a
made-up vocabulary (byte-level BPE for RoBERTa, a Unigram vocabulary for T5), and writes the
whole pipeline with ``save_pretrained`` so it loads back like a downloaded checkpoint folder
(model_index.json + one subfolder per component). Audio is 16 kHz; the vocoders and the
Oobleck VAE upsample by 256 so that a second of audio is only a few dozen latent frames.

Other test files may import these builders (video builders are appended at the end).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import torch

AUDIO_SR = 16000
WORDS = (
    "a the and of in on with for to at by seconds second bell piano drum drums rain loud soft "
    "slow fast upbeat calm hammer wooden surface sound music birds wind"
).split()


def _byte_chars() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes (so byte-level BPE never meets an unknown)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def tiny_roberta_tokenizer(model_max_length: int = 77) -> Any:
    """A RoBERTa (byte-level BPE) tokenizer over the 256 byte symbols plus a few merges."""
    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in _byte_chars():
        vocab.setdefault(ch, len(vocab))
    merges = [("Ġ", "t"), ("h", "e"), ("e", "s"), ("i", "n")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab["<mask>"] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=model_max_length)


def tiny_t5_tokenizer(model_max_length: int = 32) -> Any:
    """A T5 (Unigram, SentencePiece-style) tokenizer over letters, digits and a few words."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in string.ascii_lowercase + string.digits + ".,"]
    pieces += [("▁" + w, -1.0) for w in WORDS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


def _tiny_vocoder() -> Any:
    """SpeechT5 HiFi-GAN: 8 mel bins -> 16 kHz, 256 samples per mel frame."""
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    config = SpeechT5HifiGanConfig(
        model_in_dim=8,
        sampling_rate=AUDIO_SR,
        upsample_initial_channel=16,
        upsample_rates=[16, 16],
        upsample_kernel_sizes=[32, 32],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        normalize_before=False,
    )
    return SpeechT5HifiGan(config)


def _tiny_mel_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[8, 16],
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
    )


def _ddim() -> Any:
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
    )


def build_tiny_audioldm(folder: str | Path) -> Path:
    """AudioLDMPipeline (arXiv 2301.12503): CLAP text tower, mel UNet, mel VAE, HiFi-GAN."""
    from diffusers import AudioLDMPipeline, UNet2DConditionModel
    from transformers import ClapTextConfig, ClapTextModelWithProjection

    torch.manual_seed(0)
    tokenizer = tiny_roberta_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(8, 16),
        attention_head_dim=4,
        class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=16,
        class_embeddings_concat=True,
    )
    text_encoder = ClapTextModelWithProjection(
        ClapTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=1,
            vocab_size=len(tokenizer),
            projection_dim=16,
            max_position_embeddings=80,
        )
    )
    pipe = AudioLDMPipeline(
        vae=_tiny_mel_vae(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_ddim(),
        vocoder=_tiny_vocoder(),
    )
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_audioldm2(folder: str | Path) -> Path:
    """AudioLDM2Pipeline (arXiv 2308.05734): CLAP + T5 -> GPT-2 "language of audio" -> UNet."""
    from diffusers import AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2LMHeadModel,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    tokenizer, tokenizer_2 = tiny_roberta_tokenizer(), tiny_t5_tokenizer()
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
        attention_head_dim=4,
    )
    text_config = ClapTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        hidden_size=16,
        intermediate_size=32,
        num_attention_heads=2,
        num_hidden_layers=1,
        vocab_size=len(tokenizer),
        projection_dim=16,
        max_position_embeddings=80,
    )
    audio_config = ClapAudioConfig(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=32,
        depths=[1, 1],
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=32,
        patch_embeds_hidden_size=16,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    )
    clap = ClapModel(
        ClapConfig(text_config=text_config, audio_config=audio_config, projection_dim=16)
    )
    feature_extractor = ClapFeatureExtractor(
        feature_size=64,
        sampling_rate=AUDIO_SR,
        hop_length=640,
        max_length_s=2,
        fft_window_size=1024,
        frequency_min=50,
        frequency_max=8000,
    )
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2), d_model=32, d_ff=32, d_kv=8, num_heads=2, num_layers=1
        )
    )
    gpt2_config = GPT2Config(
        n_embd=16, n_head=2, n_layer=1, vocab_size=8, n_positions=64, bos_token_id=0, eos_token_id=0
    )
    gpt2_config.max_new_tokens = 4
    language_model = GPT2LMHeadModel(gpt2_config)
    projection_model = AudioLDM2ProjectionModel(
        text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16
    )
    pipe = AudioLDM2Pipeline(
        vae=_tiny_mel_vae(),
        text_encoder=clap,
        text_encoder_2=t5,
        projection_model=projection_model,
        language_model=language_model,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        feature_extractor=feature_extractor,
        unet=unet,
        scheduler=_ddim(),
        vocoder=_tiny_vocoder(),
    )
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_stable_audio(folder: str | Path, *, scheduler: str = "edm") -> Path:
    """StableAudioPipeline (Stable Audio Open, arXiv 2407.14358): T5 + timing -> DiT -> Oobleck.

    Latent length 128 at 256 samples a frame: at most 2.048 s of stereo 16 kHz audio.
    ``scheduler="edm"`` uses EDMDPMSolverMultistepScheduler (no extra package);
    ``"cosine"`` writes the CosineDPMSolverMultistepScheduler config of the real checkpoint
    (which needs the ``torchsde`` package to load).
    """
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tokenizer = tiny_t5_tokenizer()
    transformer = StableAudioDiTModel(
        sample_size=128,
        in_channels=3,
        num_layers=1,
        attention_head_dim=4,
        num_attention_heads=2,
        num_key_value_attention_heads=1,
        out_channels=3,
        cross_attention_dim=8,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=4,
        downsampling_ratios=[4, 8, 8],
        channel_multiples=[1, 2, 2],
        decoder_channels=4,
        decoder_input_channels=3,
        audio_channels=2,
        sampling_rate=AUDIO_SR,
    )
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=16, d_ff=16, d_kv=8, num_heads=2, num_layers=1)
    )
    projection_model = StableAudioProjectionModel(
        text_encoder_dim=16, conditioning_dim=4, min_value=0, max_value=32
    )
    sched = EDMDPMSolverMultistepScheduler(
        sigma_min=0.3,
        sigma_max=500.0,
        sigma_data=1.0,
        sigma_schedule="exponential",
        prediction_type="v_prediction",
    )
    pipe = StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection_model,
        tokenizer=tokenizer,
        transformer=transformer,
        scheduler=sched,
    )
    folder = Path(folder)
    pipe.save_pretrained(folder)
    if scheduler == "cosine":
        _write_cosine_scheduler(folder)
    return folder


def _write_cosine_scheduler(folder: Path) -> None:
    """Point the folder's scheduler at CosineDPMSolverMultistepScheduler (as the real one does)."""
    import json

    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["scheduler"] = ["diffusers", "CosineDPMSolverMultistepScheduler"]
    index_path.write_text(json.dumps(index, indent=2))
    cfg_path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["_class_name"] = "CosineDPMSolverMultistepScheduler"
    cfg_path.write_text(json.dumps(cfg, indent=2))


AUDIO_BUILDERS = {
    "AudioLDMPipeline": build_tiny_audioldm,
    "AudioLDM2Pipeline": build_tiny_audioldm2,
    "StableAudioPipeline": build_tiny_stable_audio,
}


_AUDIO_FOLDERS: dict[str, Path] = {}


def tiny_audio_folders(tmp_path_factory: Any) -> dict[str, Path]:
    """The three tiny audio pipelines, built once per test process (pass pytest's
    ``tmp_path_factory``): pipeline class name -> folder. Treat them as read-only; copy one
    (``copy_folder``) before changing it."""
    if not _AUDIO_FOLDERS:
        root = Path(tmp_path_factory.mktemp("tiny_diffusers_audio"))
        for name, build in AUDIO_BUILDERS.items():
            _AUDIO_FOLDERS[name] = build(root / name)
    return dict(_AUDIO_FOLDERS)


def copy_folder(src: str | Path, dst: str | Path) -> Path:
    """A copy of a pipeline folder that a test may break."""
    import shutil

    return Path(shutil.copytree(src, dst))


def edit_model_index(folder: str | Path, **changes: Any) -> Path:
    """Rewrite keys of ``folder/model_index.json`` (e.g. ``_class_name=...``)."""
    import json

    path = Path(folder) / "model_index.json"
    index = json.loads(path.read_text())
    index.update(changes)
    path.write_text(json.dumps(index, indent=2))
    return Path(folder)


def as_published_audioldm2(src: str | Path, dst: str | Path) -> Path:
    """A copy of a tiny AudioLDM 2 folder laid out like the published checkpoints: the
    language model saved (and listed in model_index.json) as a bare ``GPT2Model``."""
    from transformers import GPT2Model

    folder = copy_folder(src, dst)
    bare = GPT2Model.from_pretrained(folder / "language_model", local_files_only=True)
    for f in (folder / "language_model").iterdir():
        f.unlink()
    bare.save_pretrained(folder / "language_model")
    return edit_model_index(folder, language_model=["transformers", "GPT2Model"])


# ----------------------------------------------------------------------------- video builders
# Appended for avgen/pipelines/diffusers_video.py (tests/pipelines/test_diffusers_video.py):
# Wan 2.1, LTX-Video and CogVideoX with a few channels, shaped like diffusers' own fast tests.


def _tiny_t5_encoder(tokenizer: Any, umt5: bool = False) -> Any:
    """A one-layer (UM)T5 encoder with 32-dim states."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_cls, model_cls = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_cls(
        vocab_size=len(tokenizer), d_model=32, d_ff=32, d_kv=8, num_heads=2, num_layers=1,
        relative_attention_num_buckets=8,
    )  # fmt: skip
    return model_cls(config)


def build_tiny_wan(folder: str | Path, *, image: bool = False) -> Path:
    """Wan 2.1 (arXiv 2503.20314): WanPipeline, or with ``image`` a WanImageToVideoPipeline
    (the transformer also reads the image latent + mask, 36 channels, and a CLIP image
    embedding). Sizes are multiples of 16, frames 4k + 1."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = tiny_t5_tokenizer()
    parts: dict[str, Any] = {
        "tokenizer": tokenizer,
        "text_encoder": _tiny_t5_encoder(tokenizer, umt5=True),
        "vae": AutoencoderKLWan(
            base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "transformer": WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
            in_channels=36 if image else 16, out_channels=16, text_dim=32, freq_dim=32,
            ffn_dim=32, num_layers=1, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32, image_dim=4 if image else None,
        ),
    }  # fmt: skip
    if image:
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        vision = CLIPVisionConfig(
            hidden_size=4, intermediate_size=8, num_hidden_layers=2, num_attention_heads=2,
            image_size=32, patch_size=8,
        )  # fmt: skip
        parts["image_encoder"] = CLIPVisionModel(vision)
        parts["image_processor"] = CLIPImageProcessor(crop_size=32, size=32)
        pipe: Any = WanImageToVideoPipeline(**parts)
    else:
        pipe = WanPipeline(**parts)
    folder = Path(folder)
    pipe.save_pretrained(folder)
    if image:  # name the parts as the published Wan 2.1 I2V folders do
        edit_model_index(
            folder,
            image_processor=["transformers", "CLIPImageProcessor"],
        )
    return folder


def build_tiny_ltx(folder: str | Path) -> Path:
    """LTX-Video (arXiv 2501.00103): LTXPipeline with a 4x spatial / 4x temporal VAE (the real
    one is 32x / 8x); the pipeline still wants sizes in multiples of 32."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = tiny_t5_tokenizer()
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2,
        attention_head_dim=8, cross_attention_dim=16, num_layers=1, caption_channels=32,
    )  # fmt: skip
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )  # fmt: skip
    pipe = LTXPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=_tiny_t5_encoder(tokenizer),
        tokenizer=tokenizer,
    )
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_cogvideox(folder: str | Path, *, image: bool = False) -> Path:
    """CogVideoX (arXiv 2408.06072): CogVideoXPipeline at a native 32x32 (sample 4x4 latent),
    or with ``image`` a CogVideoXImageToVideoPipeline (image latent concatenated: twice the
    input channels; rotary + learned position embeddings like CogVideoX-5B-I2V, which fix the
    size)."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = tiny_t5_tokenizer()
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16 if image else 8,
        in_channels=8 if image else 4, out_channels=4, time_embed_dim=2, text_embed_dim=32,
        num_layers=1, sample_width=4, sample_height=4, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16,
        use_rotary_positional_embeddings=image, use_learned_positional_embeddings=image,
    )  # fmt: skip
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
        latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )  # fmt: skip
    cls = CogVideoXImageToVideoPipeline if image else CogVideoXPipeline
    pipe = cls(
        transformer=transformer,
        vae=vae,
        scheduler=CogVideoXDDIMScheduler(),
        text_encoder=_tiny_t5_encoder(tokenizer),
        tokenizer=tokenizer,
    )
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


VIDEO_BUILDERS: dict[str, Any] = {
    "WanPipeline": build_tiny_wan,
    "WanImageToVideoPipeline": lambda folder: build_tiny_wan(folder, image=True),
    "LTXPipeline": build_tiny_ltx,
    "CogVideoXPipeline": build_tiny_cogvideox,
    "CogVideoXImageToVideoPipeline": lambda folder: build_tiny_cogvideox(folder, image=True),
}


_VIDEO_FOLDERS: dict[str, Path] = {}


def tiny_video_folders(tmp_path_factory: Any) -> dict[str, Path]:
    """The five tiny video pipelines, built once per test process (pass pytest's
    ``tmp_path_factory``): pipeline class name -> folder. Treat them as read-only."""
    if not _VIDEO_FOLDERS:
        root = Path(tmp_path_factory.mktemp("tiny_diffusers_video"))
        for name, build in VIDEO_BUILDERS.items():
            _VIDEO_FOLDERS[name] = build(root / name)
    return dict(_VIDEO_FOLDERS)
