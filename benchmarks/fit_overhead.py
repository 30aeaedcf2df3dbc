"""How much does ``helpers.engine.fit`` cost over the same loop written by hand?

Both train the same small CNN on the same in-memory data (so data loading does
not hide the difference) for the same epochs, validating after each. The hand
loop is notebook 06's loop with nothing else; ``fit`` adds its history,
progress bars, best-model copies and the device handling. Runs alternate
(hand, fit, hand, fit, ...) so that a busy machine slows both alike, and the
ratios of the medians and of the minimums are printed, for wall-clock time and for the CPU time
of this process (on a machine shared with other work, CPU time is the steadier figure). The course's
target: at most 1.03.

Run:
    .venv/bin/python benchmarks/fit_overhead.py [--repeats 9] [--epochs 2] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from helpers.devices import choose_device
from helpers.engine import fit


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 8 * 8, 2),
    )


def loaders(samples: int, batch_size: int) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(samples, 3, 32, 32, generator=generator)
    labels = (images.mean(dim=(1, 2, 3)) > 0).long()
    data = torch.utils.data.TensorDataset(images, labels)
    train = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, generator=generator)
    valid = torch.utils.data.DataLoader(data, batch_size=batch_size)
    return train, valid


def hand_loop(model, train, valid, loss_fn, optimizer, epochs, device) -> tuple[float, float, float, float]:
    """Notebook 06's loop: train, then validate, every epoch; return the last epoch's metrics."""
    model.to(device)
    for _ in range(epochs):
        model.train()
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        for images, labels in train:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            logits = model(images)
            loss = loss_fn(logits, labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * labels.size(0)
            correct += (logits.argmax(1) == labels).sum()
            seen += labels.size(0)
        train_loss, train_accuracy = loss_sum.item() / seen, correct.item() / seen
        model.eval()
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        with torch.no_grad():
            for images, labels in valid:
                images, labels = images.to(device), labels.to(device)
                logits = model(images)
                loss_sum += loss_fn(logits, labels) * labels.size(0)
                correct += (logits.argmax(1) == labels).sum()
                seen += labels.size(0)
        valid_loss, valid_accuracy = loss_sum.item() / seen, correct.item() / seen
    return train_loss, train_accuracy, valid_loss, valid_accuracy


def timed(run_fit: bool, args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """Return (wall seconds, CPU seconds of this process) of one training run."""
    model, (train, valid) = small_cnn(), loaders(args.samples, args.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started, cpu_started = time.perf_counter(), time.process_time()
    if run_fit:
        fit(model, train, valid, loss_fn, optimizer, args.epochs, device=device, progress=args.progress)
    else:
        hand_loop(model, train, valid, loss_fn, optimizer, args.epochs, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 makes the CPU-time figure meaningful on a shared machine")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="measure fit without its progress bars")
    args = parser.parse_args()
    device = choose_device(args.device)
    torch.set_num_threads(args.threads)
    timed(False, args, device)  # warm-up: first-call costs of the kernels land on neither side
    hand, fitted = [], []
    for _ in range(args.repeats):
        hand.append(timed(False, args, device))
        fitted.append(timed(True, args, device))
    print(f"device {device.type}, {args.threads} thread(s), {args.epochs} epochs of {args.samples} samples, "
          f"batch {args.batch_size}, {args.repeats} repeats, progress bars {'on' if args.progress else 'off'}")
    for index, clock in enumerate(("wall", "CPU")):
        hand_times, fit_times = [t[index] for t in hand], [t[index] for t in fitted]
        print(f"{clock:>4} time: hand-written loop median {statistics.median(hand_times):.3f} s "
              f"(min {min(hand_times):.3f}), fit median {statistics.median(fit_times):.3f} s "
              f"(min {min(fit_times):.3f})")
        print(f"{clock:>4} fit / hand: {statistics.median(fit_times) / statistics.median(hand_times):.3f} (medians), "
              f"{min(fit_times) / min(hand_times):.3f} (minimums); target at most 1.03")


if __name__ == "__main__":
    main()
