"""Pretrain the course's small backbone on a source task of shapes, and write its provenance.

Notebook 05 needs a pretrained network that works offline: ImageNet weights
cannot be downloaded in CI. This script trains the small CNN of notebook 04
(``helpers.models.make_small_backbone`` plus a linear head) to tell apart five
outlines of synthetic shapes (``helpers.shapes.SHAPE_CLASSES``), a task with
no cells, no stain colours, no dark marks and no malaria labels, and saves the backbone's
weights (without the head) with a PROVENANCE.md beside them.

Usage, from the repository root (the shipped file was made by exactly this):

    python scripts/pretrain_backbone.py --out data/pretrained

It takes a few minutes on two CPU cores. Results agree with the shipped file
up to floating-point differences between machines and thread counts.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import shlex
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from helpers.models import SMALL_CNN_CHANNELS, make_small_backbone  # noqa: E402
from helpers.pretrained import BACKBONE_FILE  # noqa: E402
from helpers.shapes import SHAPE_CLASSES, TEXTURES, make_shapes  # noqa: E402

SOURCE_TASK = ("Synthetic shapes of random colours, sizes and rotations on dark backgrounds, labelled by their "
               "outline: " + ", ".join(SHAPE_CLASSES) + ". Their inside carries a texture that says nothing about "
               "the label (" + ", ".join(TEXTURES) + ")")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/pretrained"), help="folder for the backbone")
    parser.add_argument("--images", type=int, default=8000, help="training images of the source task")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Return the share of ``images`` that ``model`` labels right, in evaluation mode."""
    model.eval()
    with torch.no_grad():
        return (model(images).argmax(dim=1) == labels).float().mean().item()


def pretrain(args: argparse.Namespace) -> tuple[nn.Sequential, float]:
    """Train the backbone and a linear head on the source task; return the backbone and its validation accuracy."""
    torch.manual_seed(args.seed)
    images, labels = make_shapes(args.images, args.image_size, seed=args.seed)
    valid_images, valid_labels = make_shapes(1000, args.image_size, seed=args.seed + 1)
    backbone = make_small_backbone(SMALL_CNN_CHANNELS)
    model = nn.Sequential(backbone, nn.Linear(SMALL_CNN_CHANNELS[-1], len(SHAPE_CLASSES)))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(args.images, generator=order).split(args.batch_size):
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: last batch loss {loss.item():.3f}, source validation accuracy "
              f"{accuracy(model, valid_images, valid_labels):.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return backbone, accuracy(model, valid_images, valid_labels)


def provenance(args: argparse.Namespace, command: str, sha256: str, size: int, source_accuracy: float) -> str:
    """Return PROVENANCE.md: what the file is, the source task, how to remake it, and its checksum."""
    return f"""# {BACKBONE_FILE}: the course's small pretrained backbone

**What it is.** The weights of `helpers.models.make_small_backbone()` (four 3x3 convolution blocks with
{', '.join(map(str, SMALL_CNN_CHANNELS))} channels, ReLU, max-pooling, then global average pooling: images to
{SMALL_CNN_CHANNELS[-1]} features), {size:,} bytes. Notebook 05 uses it to show transfer learning offline, where
torchvision's ImageNet weights cannot be downloaded. Load it with `helpers.pretrained.load_pretrained_backbone(path)`.

**Source task.** {SOURCE_TASK}. The images are drawn by `helpers.shapes.make_shapes` ({args.images:,} training
images, seed {args.seed}; 1,000 validation images, seed {args.seed + 1}; {args.image_size} x {args.image_size} px,
normalised with the ImageNet channel statistics). The source task contains no cells, no stain colours and no malaria
labels, and its labels do not depend on dark marks inside a shape, the cue of the malaria task: like ImageNet for
photographs, it teaches general features (edges, corners, colour and texture), not the target's own cue. Accuracy on the source validation images: {source_accuracy:.3f}.

**Training.** Adam, learning rate {args.lr}, batch size {args.batch_size}, {args.epochs} epochs, cross-entropy, with
a linear head on the features that is thrown away afterwards.

**Reproduce.** From the repository root:

    {command}

| | |
|---|---|
| seed | {args.seed} |
| date | {datetime.date.today().isoformat()} |
| torch | {torch.__version__} (CPU, {torch.get_num_threads()} threads) |
| sha256 | `{sha256}` |

A rerun gives the same figures up to floating-point differences between machines and thread counts, so its
checksum may differ; `helpers.pretrained.BACKBONE_SHA256` records the shipped file's.
"""


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    backbone, source_accuracy = pretrain(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / BACKBONE_FILE
    torch.save({"features": backbone.features.state_dict(), "channels": list(SMALL_CNN_CHANNELS),
                "image_size": args.image_size, "source_task": SOURCE_TASK, "source_classes": list(SHAPE_CLASSES),
                "source_accuracy": round(source_accuracy, 4), "seed": args.seed}, path)
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    command = "python scripts/pretrain_backbone.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    (args.out / "PROVENANCE.md").write_text(provenance(args, command.strip(), sha256, len(data), source_accuracy))
    print(f"wrote {path} ({len(data):,} bytes), sha256 {sha256}")


if __name__ == "__main__":
    main()
