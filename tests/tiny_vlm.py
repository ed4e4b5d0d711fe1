"""A tiny randomly initialised vision-language model (Idefics3, SmolVLM's architecture), built once into a cache
folder: transformers and vLLM both load it, so tests check that images reach a real model. Its answers are noise.

`python -m tests.tiny_vlm` (or `make tiny-vlm`) builds it and prints the folder.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

VERSION = "2"
"""Bumped when the recipe changes, so a stale folder is rebuilt under a new name."""
IMAGE_SIDE = 64
"""Every image is resized to fit this square: 4x4 patches of 16 pixels, merged 2x2 into 4 image tokens."""
PATCH = 16
SCALE = 2
IMAGE_TOKENS = (IMAGE_SIDE // PATCH) ** 2 // SCALE**2

CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}"
    "{% else %}{{ ':' if message['content'][0]['type'] == 'image' else ': ' }}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% else %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
"""SmolVLM's turn layout ('User:<image>question<end_of_utterance>'), written here; text-only turns too."""


def cache_root() -> Path:
    return Path(os.environ.get("EVALSCOPE_CACHE", Path.home() / ".cache" / "evalscope"))


def build(folder: Path, tokenizer_folder: Path) -> Path:
    """Write the model, its processor and chat template into `folder` (atomically: built aside, then renamed)."""
    import torch
    from transformers import AutoTokenizer, Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    work = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    tokenizer.add_special_tokens({"additional_special_tokens": [
        "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>",
        *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))]})
    images = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": IMAGE_SIDE}, max_image_size={"longest_edge": IMAGE_SIDE})
    processor = Idefics3Processor(images, tokenizer, image_seq_len=IMAGE_TOKENS, chat_template=CHAT_TEMPLATE)
    vocab = -(-len(tokenizer) // 64) * 64
    config = Idefics3Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": IMAGE_SIDE, "patch_size": PATCH},
        # head_dim 64: vLLM's CPU attention kernels take 32 upwards, not 16
        text_config={"model_type": "llama", "vocab_size": vocab, "hidden_size": 128, "intermediate_size": 256,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 2048, "tie_word_embeddings": False,
                     "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                     "pad_token_id": tokenizer.pad_token_id},
        scale_factor=SCALE, pad_token_id=tokenizer.pad_token_id,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), tie_word_embeddings=False)
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(
        "<end_of_utterance>")]
    model.save_pretrained(work)
    processor.save_pretrained(work)
    (work / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    os.replace(work, folder) if not folder.exists() else shutil.rmtree(work)
    return folder


def tiny_vlm() -> Path:
    """The cached tiny VLM's folder, built on first use from the default model's tokenizer (SmolLM2's)."""
    folder = cache_root() / f"tiny-vlm-idefics3-v{VERSION}"
    if (folder / "config.json").is_file():
        return folder
    from evalscope.models import resolve

    tokenizer_folder, _ = resolve.converted_gguf(resolve.default_model_file())
    folder.parent.mkdir(parents=True, exist_ok=True)
    return build(folder, Path(tokenizer_folder))


if __name__ == "__main__":
    sys.stdout.write(f"{tiny_vlm()}\n")
