"""Pictures with Pillow only: heat maps in colour, boxes on frames, labelled panel grids, GIFs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fcnt_jax.files import atomic_path

# A perceptually ordered dark-blue -> cyan -> yellow -> red ramp (jet-like, without jet's dark ends).
_RAMP = np.array([[0, 0, 80], [0, 60, 200], [0, 190, 230], [120, 230, 120], [250, 220, 0], [230, 60, 0],
                  [150, 0, 0]], dtype=np.float64)


def colorize(values: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """A 2-D array -> (H, W, 3) uint8 through the colour ramp (min..max by default)."""
    values = np.asarray(values, dtype=np.float64)
    lo = np.nanmin(values) if vmin is None else vmin
    hi = np.nanmax(values) if vmax is None else vmax
    t = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0) * (len(_RAMP) - 1)
    i = np.minimum(np.floor(t).astype(int), len(_RAMP) - 2)
    frac = (t - i)[..., None]
    return ((1 - frac) * _RAMP[i] + frac * _RAMP[i + 1]).astype(np.uint8)


def to_image(array: np.ndarray, size: int | tuple[int, int] | None = None) -> Image.Image:
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if size is not None:
        size = (size, size) if isinstance(size, int) else size
        image = image.resize(size, Image.NEAREST if min(array.shape[:2]) < 100 else Image.BILINEAR)
    return image


def draw_box(image: Image.Image, box: Sequence[float], color=(0, 255, 0), width: int = 2,
             scale: float = 1.0) -> Image.Image:
    """Draw a 0-based ``[x0, y0, w, h]`` box (times ``scale``) on a copy of the image."""
    image = image.copy()
    x0, y0, w, h = (float(v) * scale for v in box)
    ImageDraw.Draw(image).rectangle([x0, y0, x0 + w - 1, y0 + h - 1], outline=color, width=width)
    return image


def blend_heatmap(frame: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Overlay a heat map (same H, W as the frame, values 0..1) on an RGB frame."""
    colour = colorize(heat, 0.0, 1.0).astype(np.float64)
    weight = alpha * np.clip(heat, 0.0, 1.0)[..., None]
    return ((1 - weight) * frame + weight * colour).astype(np.uint8)


def panel_grid(rows: list[list[tuple[str, Image.Image]]], title: str | None = None,
               pad: int = 6, label_height: int = 16) -> Image.Image:
    """Lay out titled panels in rows (each panel keeps its size); an optional title on top."""
    font = ImageFont.load_default()
    cell_w = max(im.width for row in rows for _, im in row)
    cell_h = max(im.height for row in rows for _, im in row)
    ncols = max(len(row) for row in rows)
    top = label_height + pad if title else 0
    canvas = Image.new("RGB", (pad + ncols * (cell_w + pad), top + pad + len(rows) * (cell_h + label_height + pad)),
                       (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, pad), title, fill=(0, 0, 0), font=font)
    for r, row in enumerate(rows):
        for c, (label, im) in enumerate(row):
            x = pad + c * (cell_w + pad)
            y = top + pad + r * (cell_h + label_height + pad)
            draw.text((x, y), label, fill=(0, 0, 0), font=font)
            canvas.paste(im, (x, y + label_height))
    return canvas


def save_gif(frames: list[Image.Image], path: str | Path, fps: float = 10.0) -> None:
    """Animated GIF, looping forever; written to a temp name then renamed (never half a file)."""
    with atomic_path(path, suffix=".gif") as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 / fps), loop=0)
