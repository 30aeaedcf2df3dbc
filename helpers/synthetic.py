"""Synthetic blood-cell images in the NIH malaria layout, made offline in seconds.

The real data set (notebook 03, ``helpers.nih``) is 27,558 cell crops from thin
blood smears: roughly round pink-to-mauve cells on black, parasitized ones
showing dark-purple chromatin dots or rings. These synthetic cells mimic it
closely enough to teach with:

* each image is one cell, 40 to 200 px wide (or one fixed size), on black;
* every slide (one patient) has its own stain colour, brightness and lighting,
  so a colour learnt on one patient does not carry to the next;
* parasitized cells carry one to three dark-purple dots or small rings, many of
  them ring-stage parasites a few pixels wide and faint, so that shrinking the
  image can erase them;
* many uninfected cells carry debris, platelets or stain precipitate: dark
  specks that look like chromatin, so colour or area alone cannot tell the
  classes apart, and even a CNN is sometimes fooled;
* some cells are out of focus: soft edges, blurred marks;
* a known share of labels is wrong (:data:`LABEL_NOISE`), as in any
  hand-labelled data set; ``synthetic.json`` lists the flipped files.

File names follow the NIH pattern (``C12P3thinF_IMG_20150604_112233_cell_7.png``)
and carry the slide id ``C12P3``, so a patient-level split can be taught.

The source task of the course's pretrained backbone is elsewhere, in
:mod:`helpers.shapes`: it has nothing of these cells in it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.std import tqdm

from helpers.nih import CLASSES
from helpers.progress import text_bar
from helpers.safe_files import remove_stale_temporaries
from helpers.synthetic_folder import (  # noqa: F401 (raised here)
    MANIFEST_NAME,
    NotACourseFolderError,
    check_replaceable,
    is_course_manifest,
    leftover_pattern,
    move_into_place,
    png_bytes,
    remember_parent,
    stop_if_orphaned,
)

GENERATOR_VERSION = 4
CELLS_PER_SLIDE = 8
INFECTED_SLIDE_SHARE = 0.6
LABEL_NOISE = 0.02
DEBRIS_SHARE = 0.5
"""Share of uninfected cells carrying debris, platelets or stain precipitate."""
DEFOCUS_SHARE = 0.15
"""Share of cells drawn out of focus."""
HEALTHY_SLIDE_SHARE_OF_UNINFECTED = 0.7
CHROMATIN = np.array([85, 25, 115], dtype=np.float32)
BACKGROUND_LEVEL = 6.0
GRAIN = 8.0
MAX_PER_CLASS = 50_000
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 1024
IMAGES_PER_TASK = 100


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that decides the images: same spec, same bytes."""

    per_class: int
    seed: int
    image_size: int | None
    version: int = GENERATOR_VERSION


@dataclass(frozen=True)
class Slide:
    """One patient's smear: its id, whether it is infected, its stain and lighting."""

    slide_id: str
    infected: bool
    stain: np.ndarray  # RGB of the cell body, 0-255
    chromatin: np.ndarray  # RGB of chromatin (and debris) on this slide, 0-255
    light_direction: float  # angle of the lighting gradient, radians
    light_strength: float


@lru_cache(maxsize=256)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel-centre coordinates in [-1, 1] for a square image of ``size`` px."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    return np.meshgrid(axis, axis, indexing="xy")


def make_slides(count: int, seed: int) -> list[Slide]:
    """Return ``count`` slides with their own ids, infection status, stain and lighting."""
    rng = np.random.default_rng([seed, 0])
    slides = []
    for index in range(count):
        pink, mauve = np.array([205, 120, 135]), np.array([175, 110, 175])
        brightness = rng.uniform(0.7, 1.15)  # how thick the smear is and how long it was stained
        stain = (pink + rng.uniform(0, 1) * (mauve - pink) + rng.normal(0, 18, 3)) * brightness
        chromatin = CHROMATIN * rng.uniform(0.7, 1.3) + rng.normal(0, 12, 3)
        slides.append(Slide(slide_id=f"C{index + 10}P{rng.integers(1, 90)}",
                            infected=rng.uniform() < INFECTED_SLIDE_SHARE,
                            stain=np.clip(stain, 80, 245).astype(np.float32),
                            chromatin=np.clip(chromatin, 20, 170).astype(np.float32),
                            light_direction=float(rng.uniform(0, 2 * math.pi)),
                            light_strength=float(rng.uniform(0.0, 0.25))))
    if not any(slide.infected for slide in slides):
        slides[0] = Slide(**{**slides[0].__dict__, "infected": True})
    return slides


def _blob(x: np.ndarray, y: np.ndarray, cx: float, cy: float, radius: float, ring: bool) -> np.ndarray:
    """Return a soft disc (or ring) of weight 0..1 centred on (cx, cy)."""
    distance = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / radius
    if ring:
        return np.clip(1.6 - 4.0 * np.abs(distance - 0.8), 0, 1)
    return np.clip(1.5 - distance, 0, 1)


def draw_cell(rng: np.random.Generator, slide: Slide, size: int, parasitized: bool) -> np.ndarray:
    """Draw one cell as an RGB ``uint8`` array of shape (size, size, 3)."""
    x, y = _grid(size)
    angle = rng.uniform(0, math.pi)
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = x * cos + y * sin, -x * sin + y * cos
    a, b = rng.uniform(0.72, 0.92), rng.uniform(0.72, 0.92)
    radius = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    wobble = rng.uniform(0.0, 0.035) * np.sin(rng.integers(2, 6) * np.arctan2(v, u) + rng.uniform(0, 6.3))
    defocus = rng.uniform() < DEFOCUS_SHARE
    edge = size / 3 / (rng.uniform(3, 6) if defocus else 1)  # soft edge about 1.5 px wide, wider out of focus
    cell = np.clip((1.0 - radius - wobble) * edge, 0, 1)

    light = 1 + slide.light_strength * (x * math.cos(slide.light_direction) + y * math.sin(slide.light_direction))
    pallor = 1 + 0.12 * np.exp(-(radius / 0.45) ** 2)  # the paler centre of a red blood cell
    shade = light * pallor * rng.uniform(0.85, 1.1)

    dots = np.zeros((size, size), dtype=np.float32)
    ring_stage = parasitized and rng.uniform() < 0.5
    if ring_stage:  # small faint rings a few pixels wide: at 64 px a ring of radius 0.05 is under 2 px wide
        count, strength, scale, ring_share, reach = rng.integers(1, 3), rng.uniform(0.6, 1.0), (0.05, 0.09), 0.8, 0.6
    elif parasitized:  # later stages: bigger, darker chromatin
        count, strength, scale, ring_share, reach = rng.integers(1, 4), rng.uniform(0.7, 1.0), (0.06, 0.12), 0.3, 0.55
    elif rng.uniform() < DEBRIS_SHARE:  # debris, platelets, stain precipitate: dark specks, some on the cell's rim
        count, strength, scale, ring_share, reach = rng.integers(1, 3), rng.uniform(0.25, 0.65), (0.03, 0.07), 0.1, 0.95
    else:
        count, strength, scale, ring_share, reach = np.int64(0), 0.0, (0.0, 0.0), 0.0, 0.0
    blur = rng.uniform(1.6, 2.4) if defocus else 1.0  # out of focus: marks spread out and fade
    for _ in range(count):
        r, t = rng.uniform(0, reach), rng.uniform(0, 2 * math.pi)
        cx, cy = r * a * math.cos(t), r * b * math.sin(t)
        blob = _blob(u, v, cx, cy, rng.uniform(*scale) * blur, ring=rng.uniform() < ring_share)
        dots = np.maximum(dots, strength / blur * blob)

    # Mix three colours per pixel: the stained cell body, the chromatin dots and the black background.
    # Channels come first while mixing: NumPy is much faster looping over rows than over 3 channels.
    stain_weight, chromatin_weight = cell * shade * (1 - dots), cell * dots
    image = (stain_weight * slide.stain[:, None, None] + chromatin_weight * slide.chromatin[:, None, None]
             + BACKGROUND_LEVEL + rng.random((3, size, size), dtype=np.float32) * GRAIN)
    return np.clip(image, 0, 255, out=image).astype(np.uint8).transpose(1, 2, 0)


def _image_size(rng: np.random.Generator, fixed: int | None) -> int:
    """Return a fixed size, or one drawn like the NIH crops (mostly 110-150 px, 40-200 in all)."""
    return fixed if fixed else int(np.clip(rng.normal(130, 25), 40, 200))


def _file_name(slide: Slide, seed: int, index: int) -> str:
    rng = np.random.default_rng([seed, 2, index])
    day = 20150600 + int(rng.integers(1, 29))
    hour, minute, second = rng.integers(8, 18), rng.integers(0, 60), rng.integers(0, 60)
    return f"{slide.slide_id}thinF_IMG_{day}_{hour:02d}{minute:02d}{second:02d}_cell_{index}.png"


def _write_images(root: Path, spec: SyntheticSpec, indices: range) -> list[str]:
    """Draw and save the images numbered ``indices`` (each from its own seeded generator); return the mislabelled.

    The names returned are ``Class/file.png`` paths, relative to ``root``, of the images saved in the wrong class.
    """
    flipped = []
    total = 2 * spec.per_class
    slides = make_slides(max(2, math.ceil(total / CELLS_PER_SLIDE)), spec.seed)
    infected = [slide for slide in slides if slide.infected]
    healthy = [slide for slide in slides if not slide.infected]
    for index in indices:
        stop_if_orphaned()
        rng = np.random.default_rng([spec.seed, 1, index])
        parasitized = index < spec.per_class
        # parasites come from infected patients; healthy-looking cells mostly from healthy ones
        if parasitized:
            slide = infected[rng.integers(len(infected))]
        elif healthy and rng.uniform() < HEALTHY_SLIDE_SHARE_OF_UNINFECTED:
            slide = healthy[rng.integers(len(healthy))]
        else:
            slide = slides[rng.integers(len(slides))]
        image = draw_cell(rng, slide, _image_size(rng, spec.image_size), parasitized)
        label_is_wrong = rng.uniform() < LABEL_NOISE
        folder = CLASSES[int(parasitized == label_is_wrong)]
        name = _file_name(slide, spec.seed, index)
        (root / folder / name).write_bytes(png_bytes(image))
        if label_is_wrong:
            flipped.append(f"{folder}/{name}")
    return flipped


def check_synthetic_arguments(per_class: int, seed: int, image_size: int | None,
                              workers: int | None = None) -> None:
    """Raise ``ValueError``, saying what is allowed, for arguments the generator cannot use.

    Example:
        >>> check_synthetic_arguments(per_class=0, seed=0, image_size=None)
        Traceback (most recent call last):
        ValueError: per_class must be a whole number from 1 to 50000, got 0.
    """
    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(per_class) or not 1 <= per_class <= MAX_PER_CLASS:
        raise ValueError(f"per_class must be a whole number from 1 to {MAX_PER_CLASS}, got {per_class!r}.")
    if not whole(seed) or seed < 0:
        raise ValueError(f"seed must be a whole number, 0 or more, got {seed!r}.")
    if image_size is not None and (not whole(image_size) or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE):
        raise ValueError(f"image_size must be None (varied sizes) or a whole number of pixels from "
                         f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}, got {image_size!r}.")
    if workers is not None and (not whole(workers) or workers < 1):
        raise ValueError(f"workers must be None (one per CPU core) or a whole number, 1 or more, got {workers!r}.")


def _made_with(manifest: Path, spec: SyntheticSpec) -> bool:
    """Whether ``manifest`` is a course manifest recording exactly ``spec``."""
    if not (manifest.is_file() and is_course_manifest(manifest)):
        return False
    recorded = json.loads(manifest.read_text())
    return {name: recorded[name] for name in asdict(spec)} == asdict(spec)


def flipped_files(root: str | Path) -> list[Path]:
    """Return the images under ``root`` whose folder (label) is wrong, as the generator recorded them.

    Example:
        >>> root = make_synthetic_cells("data/synthetic", per_class=50, seed=0, image_size=64)
        >>> all(path.parent.parent == root for path in flipped_files(root))
        True
    """
    root = Path(root).expanduser().resolve()
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    return [root / name for name in manifest.get("flipped", [])]


def _draw_all(partial: Path, spec: SyntheticSpec, workers: int, bar: tqdm) -> list[str]:
    """Write every image into ``partial``, in ``workers`` processes (here when 1), advancing ``bar`` as tasks end.

    Returns the mislabelled images' paths relative to ``partial``.
    """
    flipped: list[str] = []
    total = 2 * spec.per_class
    tasks = [range(start, min(start + IMAGES_PER_TASK, total)) for start in range(0, total, IMAGES_PER_TASK)]
    workers = min(workers, len(tasks))
    if workers == 1:
        for task in tasks:
            flipped += _write_images(partial, spec, task)
            bar.update(len(task))
        return flipped
    pool = ProcessPoolExecutor(workers, initializer=remember_parent)
    try:
        for task, names in zip(tasks, pool.map(_write_images, [partial] * len(tasks), [spec] * len(tasks), tasks)):
            flipped += names
            bar.update(len(task))
    finally:  # on Ctrl-C, drop the tasks not started yet instead of waiting for them
        pool.shutdown(wait=True, cancel_futures=True)
    return flipped


def make_synthetic_cells(root: str | Path, per_class: int = 600, seed: int = 0,
                         image_size: int | None = None, workers: int | None = None,
                         progress: bool = False) -> Path:
    """Write synthetic cell images to ``root/Parasitized`` and ``root/Uninfected``; return ``root``.

    Calling it again with the same arguments reuses the images; other
    arguments replace them, but only in a folder this function made: any other
    non-empty folder raises :class:`NotACourseFolderError` and stays as it is.
    The images are written to a temporary folder first, so an interrupted run
    never leaves half a data set behind (the next run removes what a killed one
    left). ``workers`` processes share the drawing (default: one per CPU core)
    and stop if this process dies; every image has its own seeded generator, so
    the result does not depend on them. ``progress=True`` shows a text progress
    bar while images are drawn (none when they are reused).

    Example:
        >>> root = make_synthetic_cells("data/synthetic", per_class=50, seed=0, image_size=64)
        >>> sorted(p.name for p in root.iterdir())
        ['Parasitized', 'Uninfected', 'synthetic.json']
    """
    check_synthetic_arguments(per_class, seed, image_size, workers)
    root = Path(root).expanduser().resolve()
    spec = SyntheticSpec(per_class, seed, image_size)
    manifest = root / MANIFEST_NAME
    if _made_with(manifest, spec):
        return root
    check_replaceable(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root.parent, leftover_pattern(root))
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-{os.getpid()}-", dir=root.parent))
    try:
        for folder in CLASSES:
            (partial / folder).mkdir()
        total = 2 * spec.per_class
        with text_bar(total=total, desc=f"making {total:,} synthetic cell images (once)", unit="img",
                      disable=not progress) as bar:
            flipped = _draw_all(partial, spec, workers or os.cpu_count() or 1, bar)
        record = {**asdict(spec), "label_noise": LABEL_NOISE, "flipped": sorted(flipped)}
        (partial / MANIFEST_NAME).write_text(json.dumps(record, indent=1))
        if _made_with(manifest, spec):
            return root  # another process made the same images meanwhile
        check_replaceable(root)  # again: someone may have put files there while we drew
        move_into_place(partial, root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
