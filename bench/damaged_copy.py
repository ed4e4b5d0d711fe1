"""A damaged checkpoint (the realistic "a fine-tune went wrong" case): a copy of a model's weights with Gaussian
noise added, saved as an HF folder. `python bench/damaged_copy.py OUT [--source FOLDER] [--noise 0.5]`."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json")


def damaged_copy(source: Path, out: Path, noise: float = 0.5, seed: int = 0) -> Path:
    """`out`: `source` with N(0, (noise * std of the tensor)^2) added to every weight matrix (norms untouched, so
    the model still runs and writes text, only worse). The same seed gives the same copy."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, tensor in sorted(model.named_parameters()):
            if tensor.dim() == 2:  # projections and embeddings; layer norms stay as they are
                tensor.add_(torch.randn(tensor.shape, generator=generator) * tensor.std() * noise)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, out / name)
    return out


def default_folder() -> Path:
    """The embedded model, converted once to an HF folder."""
    from evalscope.models import resolve

    folder, _ = resolve.converted_gguf(resolve.default_model_file())
    return Path(folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", type=Path, default=None, help="an HF folder (default: the embedded model)")
    parser.add_argument("--noise", type=float, default=0.5, help="noise std as a share of each tensor's std")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(damaged_copy(args.source or default_folder(), args.out, args.noise, args.seed))
