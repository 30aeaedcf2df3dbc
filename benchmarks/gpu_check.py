"""The `full` preset on a GPU, measured in one run: training speed with and without mixed precision,
loader speed with and without workers, and notebooks 07 and 11 executed on synthetic cells.

    python3 benchmarks/gpu_check.py --out "$OUT"           # on a CUDA machine: about 5 minutes (estimated)
    python benchmarks/gpu_check.py --tiny --out /tmp/gpu    # on a CPU, in a minute or two: checks the script

It needs no internet. The GPU machine may lack IPython (``helpers.course.records`` uses it); the script
then installs it from wheels carried in ``.whl/`` (``pip download ipython -d .whl`` on a machine with
a package registry) and, failing that, still measures the speeds but skips the notebooks.

Notebook 11 takes its ImageNet branch: a randomly initialised ResNet-18 is saved in a temporary
TORCH_HOME under the file name torchvision expects, so the timings are those of the real model
(its accuracy means nothing). The notebooks run in this process, cell by cell, in the `full`
preset with USE_REAL_DATA=False. Figures go to OUT/gpu_check.md, OUT/gpu_check.json and one text
file per notebook with every cell's printed output and duration.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WHEELS = ROOT / ".whl"
RECORDED = re.compile(r"^recorded (\w+) = (.*)$", re.MULTILINE)


def ensure_ipython() -> bool:
    """Return whether IPython can be imported, installing it from ``.whl/`` if it is missing and carried."""
    with contextlib.suppress(ImportError):
        import IPython  # noqa: F401

        return True
    if not any(WHEELS.glob("*.whl")):
        print(f"IPython is missing and {WHEELS} holds no wheels: the notebooks are skipped")
        return False
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(WHEELS),
                    "ipython"], check=False)
    try:
        import IPython  # noqa: F401
    except ImportError:
        print("IPython could not be installed from the carried wheels: the notebooks are skipped")
        return False
    return True


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_images_per_second(model: torch.nn.Module, device: torch.device, image_size: int, batch_size: int,
                               steps: int, mixed_precision: bool) -> float:
    """Train ``model`` on random batches already on ``device`` and return images per second (compute only)."""
    from helpers.engine import Precision, mixed_precision_dtype, train_one_epoch

    low_precision = mixed_precision_dtype(device, mixed_precision)
    scaler = torch.amp.GradScaler(device.type) if low_precision == torch.float16 else None
    precision = Precision(low_precision, scaler)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device)
    labels = torch.randint(0, 2, (batch_size,), device=device)
    model = model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    train_one_epoch(model, [(images, labels)] * 2, loss_fn, optimizer, device, precision=precision)  # warm-up
    synchronize(device)
    started = time.perf_counter()
    train_one_epoch(model, [(images, labels)] * steps, loss_fn, optimizer, device, precision=precision)
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - started)


def compute_figures(device: torch.device, image_size: int, batch_size: int, steps: int) -> dict[str, float]:
    """Training throughput of notebook 11's two models, float32 against mixed precision."""
    from helpers.models import make_small_cnn
    from helpers.pretrained import build_transfer_model

    figures = {}
    for name, make in [("resnet18_layer4", lambda: build_transfer_model("resnet18", train_layers=("layer4",))),
                       ("resnet18_all_layers", lambda: build_transfer_model("resnet18").requires_grad_(True)),
                       ("small_cnn", make_small_cnn)]:
        for mixed in (False, True):
            torch.manual_seed(0)
            rate = training_images_per_second(make(), device, image_size, batch_size, steps, mixed)
            figures[f"train_images_per_s_{name}_{'amp' if mixed else 'fp32'}"] = rate
            print(f"{name:<22} {'mixed precision' if mixed else 'float32':<16} {rate:10,.0f} images/s")
    return figures


def loader_figures(cells_root: Path, image_size: int, batch_size: int) -> dict[str, float]:
    """Images per second one pass of the training loader delivers, on the main process and with workers."""
    from helpers.data import available_workers, make_loaders

    figures = {}
    for workers in (0, available_workers()):
        loaders = make_loaders(cells_root, image_size, batch_size, seed=0, num_workers=workers,
                               pin_memory=torch.cuda.is_available())
        next(iter(loaders.train))  # start the workers before timing
        started = time.perf_counter()
        seen = sum(len(labels) for _, labels in loaders.train)
        figures[f"loader_images_per_s_{workers}_workers"] = seen / (time.perf_counter() - started)
        print(f"loader, {workers:>2} workers: {figures[f'loader_images_per_s_{workers}_workers']:10,.0f} images/s")
    return figures


def run_cells(notebook: Path, parameters: dict[str, object], log: Path) -> dict[str, object]:
    """Execute a notebook's code cells in this process, parameters injected after its parameters cell.

    Writes each cell's printed output and duration to ``log``; returns the seconds per cell, the
    total, and the figures the notebook recorded.
    """
    import matplotlib

    matplotlib.use("Agg")
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict[str, object] = {"__name__": "__main__"}
    seconds, text = {}, []
    previous_folder = Path.cwd()
    os.chdir(notebook.parent)
    try:
        for number, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            printed = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(printed):
                exec(compile(source, f"{notebook.name} cell {number}", "exec"), namespace)
                if "parameters" in cell.get("metadata", {}).get("tags", []):
                    namespace.update(parameters)
                synchronize(torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
            seconds[f"cell {number}"] = time.perf_counter() - started
            text.append(f"--- cell {number} ({seconds[f'cell {number}']:.1f} s)\n{source}\n>>>\n{printed.getvalue()}")
            import matplotlib.pyplot as plt

            plt.close("all")
    finally:
        os.chdir(previous_folder)
        log.write_text("\n".join(text))
    records = dict(RECORDED.findall("\n".join(text)))
    return {"seconds_per_cell": seconds, "seconds": sum(seconds.values()), "records": records}


def place_random_resnet18(torch_home: Path) -> None:
    """Save a randomly initialised ResNet-18 where ``ResNet18_Weights.DEFAULT`` looks for its file."""
    import torchvision

    weights = torchvision.models.ResNet18_Weights.DEFAULT
    target = torch_home / "hub" / "checkpoints" / os.path.basename(weights.url)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.resnet18().state_dict(), target)
    os.environ["TORCH_HOME"] = str(torch_home)


def markdown_table(figures: dict[str, object]) -> str:
    lines = ["| figure | value |", "|---|---|"]
    for name, value in figures.items():
        shown = (f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}") if isinstance(value, float) else str(value)
        lines.append(f"| {name} | {shown} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    parser.add_argument("--tiny", action="store_true", help="a few images and steps: checks the script on a CPU")
    parser.add_argument("--images-per-class", type=int, default=None,
                        help="synthetic cells per class for notebook 11 and the loader (default 4000; tiny: 24)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images_per_class = args.images_per_class or (24 if args.tiny else 4000)
    batch_size, steps = (4, 2) if args.tiny else (64, 30)
    figures: dict[str, object] = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({platform.machine()})",
        "torch": torch.__version__, "cpu_cores": os.cpu_count() or 1, "images_per_class": images_per_class}
    print(figures)

    from helpers.devices import autocast_dtype

    figures["autocast_dtype"] = str(autocast_dtype(device))
    figures.update(compute_figures(device, 224, batch_size, steps))

    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    from helpers.synthetic import make_synthetic_cells

    started = time.perf_counter()
    cells_root = make_synthetic_cells(work / "data" / "generated" / f"synthetic_cells_{images_per_class}_seed0",
                                      per_class=images_per_class, seed=0)
    figures["synthetic_generation_seconds"] = time.perf_counter() - started
    figures.update(loader_figures(cells_root, 224, batch_size if args.tiny else 64))

    if ensure_ipython():
        place_random_resnet18(work / "torch_home")
        os.environ["COURSE_CHECKPOINT_DIR"] = str(work / "checkpoints")
        common = {"PRESET": "full", "DATA_DIR": str(work / "data"), "SEED": 0}
        plans = {"07_cuda_and_devices": {**common, **({"MATRIX_SIZE": 256, "BATCH_SIZE": 4} if args.tiny else {})},
                 "11_capstone_malaria": {**common, "USE_REAL_DATA": False, "IMAGES_PER_CLASS": images_per_class,
                                         **({"EPOCHS": 1, "BATCH_SIZE": 8} if args.tiny else {})}}
        for name, parameters in plans.items():
            print(f"running {name} with {parameters}")
            try:
                result = run_cells(ROOT / "notebooks" / f"{name}.ipynb", parameters, args.out / f"{name}.txt")
            except Exception as error:  # a failing notebook is a finding: report it and keep the figures
                figures[f"{name}_error"] = f"{type(error).__name__}: {error}"
                print(f"{name} failed: {error}")
                continue
            figures[f"{name}_seconds"] = result["seconds"]
            figures.update({f"{name}.{key}": value for key, value in result["records"].items()})
            slowest = sorted(result["seconds_per_cell"].items(), key=lambda item: -item[1])[:3]
            figures[f"{name}_slowest_cells"] = ", ".join(f"{cell} {secs:.1f} s" for cell, secs in slowest)
            print(f"{name}: {result['seconds']:.1f} s")

    (args.out / "gpu_check.json").write_text(json.dumps(figures, indent=1))
    (args.out / "gpu_check.md").write_text(f"# GPU check, {time.strftime('%Y-%m-%d')}\n\n{markdown_table(figures)}\n")
    print(markdown_table(figures))


if __name__ == "__main__":
    main()
