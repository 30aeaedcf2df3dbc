"""Does the course's small CNN learn on every seed? Best validation accuracy against the majority baseline.

For each seed (0 to 4 by default) the preset's synthetic cells are made with
that seed and split by patient, and the small CNN (``helpers.models.make_small_cnn``,
trained with Adam at the preset's ``learning_rate`` and ``CrossEntropyLoss``) is
trained as each notebook configures it:

* ``06 loop``: notebook 06's hand-written loop, the preset's epochs, a constant learning rate;
* ``06 fit``: notebook 06's ``fit`` with OneCycleLR (peak 3 x the learning rate), the preset's epochs;
* ``08``: notebook 08's unbroken run, 10 epochs with StepLR(step_size=3, gamma=0.5) (the model 09 and 10 load);
* ``11``: notebook 11's capstone CNN, at most 8 epochs, stopping after 3 without a lower validation loss.

It prints one row per seed: the validation set's majority-class baseline (the
accuracy of always answering its most common class), then each model's best
validation accuracy and its margin over that baseline. The course asks for at
least 30 points (0.30) above the baseline on every seed.

Run:
    .venv/bin/python benchmarks/seed_sweep.py [--preset class] [--seeds 0 1 2 3 4] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch
from torch import nn

from helpers.course.prepare import prepare_cell_images
from helpers.course.presets import Settings, resolve_settings
from helpers.data import Loaders, majority_baseline, make_loaders
from helpers.engine import evaluate, fit, train_one_epoch
from helpers.models import make_small_cnn

REQUIRED_MARGIN = 0.30
"""How far above the majority baseline every model's best validation accuracy must end."""
MODELS = ("06 loop", "06 fit", "08", "11")


@dataclass(frozen=True)
class SeedResult:
    """One seed's majority baseline and each model's best validation accuracy."""

    seed: int
    baseline: float
    best_accuracy: dict[str, float]

    def margins(self) -> dict[str, float]:
        return {name: accuracy - self.baseline for name, accuracy in self.best_accuracy.items()}


def validation_baseline(loaders: Loaders) -> float:
    """Return the majority-class share of the validation split."""
    targets = loaders.valid.dataset.targets
    return majority_baseline([targets[index] for index in loaders.split.valid])


def hand_loop_best_accuracy(settings: Settings, loaders: Loaders, device: torch.device) -> float:
    """Train as notebook 06's hand-written loop does (one epoch = train, then validate); return the best accuracy."""
    torch.manual_seed(settings.seed)
    model = make_small_cnn().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    criterion = nn.CrossEntropyLoss()
    accuracies = []
    for _ in range(settings.epochs):
        train_one_epoch(model, loaders.train, criterion, optimizer, device)
        accuracies.append(evaluate(model, loaders.valid, criterion, device)[1])
    return max(accuracies)


def fit_best_accuracy(settings: Settings, loaders: Loaders, device: torch.device, name: str) -> float:
    """Train with ``fit`` as notebook ``name`` configures it; return the best validation accuracy."""
    torch.manual_seed(settings.seed)
    model = make_small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    epochs, scheduler, patience = settings.epochs, None, None
    if name == "06 fit":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3 * settings.learning_rate,
                                                        total_steps=epochs * len(loaders.train))
    elif name == "08":
        epochs = 4 if settings.preset == "smoke" else 10
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    elif name == "11":
        epochs, patience = {"smoke": 2, "class": 8, "full": 8}[settings.preset], 3
    history = fit(model, loaders.train, loaders.valid, nn.CrossEntropyLoss(), optimizer, epochs, device=device,
                  scheduler=scheduler, patience=patience, progress=False)
    return max(history.valid_accuracy)


def sweep_seed(preset: str, seed: int, threads: int = 1) -> SeedResult:
    """Train every notebook's model on ``seed``'s data; return the baseline and the best accuracies."""
    torch.set_num_threads(threads)
    settings = resolve_settings(preset, seed=seed)
    loaders = make_loaders(prepare_cell_images(settings), settings.image_size, settings.batch_size, seed=seed,
                           valid_fraction=settings.valid_fraction, test_fraction=settings.test_fraction,
                           cache_images=settings.cache_images)
    device = torch.device("cpu")
    best = {"06 loop": hand_loop_best_accuracy(settings, loaders, device)}
    for name in MODELS[1:]:
        best[name] = fit_best_accuracy(settings, loaders, device, name)
    return SeedResult(seed, validation_baseline(loaders), best)


def table(results: list[SeedResult]) -> str:
    """Return a Markdown table: per seed, the baseline and each model's best accuracy (margin in brackets)."""
    lines = ["| seed | majority baseline | " + " | ".join(MODELS) + " |", "|---" * (len(MODELS) + 2) + "|"]
    for result in results:
        cells = [f"{result.best_accuracy[name]:.3f} ({result.margins()[name]:+.3f})" for name in MODELS]
        lines.append(f"| {result.seed} | {result.baseline:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="class", choices=("smoke", "class", "full"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once, one CPU thread each")
    args = parser.parse_args(argv)
    for seed in args.seeds:  # make the data sets first, so that parallel jobs never write the same folder
        prepare_cell_images(resolve_settings(args.preset, seed=seed))
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(sweep_seed, [args.preset] * len(args.seeds), args.seeds))
    print(table(results))
    short = [(result.seed, name) for result in results for name, margin in result.margins().items()
             if margin < REQUIRED_MARGIN]
    if short:
        print(f"below the required {REQUIRED_MARGIN:.2f} margin: {short}")
        return 1
    print(f"every model ends at least {REQUIRED_MARGIN:.2f} above its baseline on every seed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
