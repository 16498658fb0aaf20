"""Realistic image degradations, one function each, shared by the example-clip generator, the tests and
training augmentation (so the network learns on the same kinds of damage the tests check)."""

from __future__ import annotations

import cv2
import numpy as np


def motion_blur(image: np.ndarray, length: int = 15, angle: float = 0.0) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))


def defocus(image: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def downscale(image: np.ndarray, factor: float = 0.2) -> np.ndarray:
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, quality: int = 8) -> np.ndarray:
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def low_light(image: np.ndarray, gain: float = 0.2, noise: float = 6.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dark = image.astype(np.float32) * gain + rng.normal(0.0, noise, image.shape)
    return np.clip(dark, 0, 255).astype(np.uint8)


def noise(image: np.ndarray, sigma: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image.astype(np.float32) + rng.normal(0.0, sigma, image.shape), 0, 255).astype(np.uint8)


def occlude(image: np.ndarray, box: tuple[float, float, float, float], colour=(40, 40, 40)) -> np.ndarray:
    """Paint a rectangle given as fractions (x1, y1, x2, y2) of the image size."""
    height, width = image.shape[:2]
    out = image.copy()
    x1, y1, x2, y2 = box
    cv2.rectangle(out, (int(x1 * width), int(y1 * height)), (int(x2 * width), int(y2 * height)), colour, -1)
    return out


def turn_head(image: np.ndarray, amount: float = 0.35) -> np.ndarray:
    """A head turn imitated by a perspective warp that shrinks one side of the image."""
    height, width = image.shape[:2]
    squeeze = amount * height / 2
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    target = np.float32([[0, 0], [width * (1 - amount / 2), squeeze], [width * (1 - amount / 2), height - squeeze], [0, height]])
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(source, target), (width, height), borderMode=cv2.BORDER_REPLICATE)


def resolution_factor(rng: np.random.Generator) -> float:
    """The first draw of `source_degradation`: the share of the source resolution a degraded copy keeps
    (often 0.1-0.7, else 1). Replaying it from the same seed tells how small a degraded face really was."""
    return float(np.exp(rng.uniform(np.log(0.1), np.log(0.7)))) if rng.random() < 0.6 else 1.0


def source_degradation(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a camera and codec do to a face, applied to the source image *before* detection (training
    data): often a lower resolution, then one or two of motion blur, defocus, noise and low light at that
    resolution, then sometimes JPEG at that resolution, then back to the original size (the aligner would
    upsample a small face the same way). Strengths are relative to the image size."""
    height, width = image.shape[:2]
    scale = min(height, width) / 250.0  # the strengths below are for a 250-px LFW image
    out = image
    factor = resolution_factor(rng)
    if factor < 1.0:
        out = cv2.resize(out, (max(8, round(width * factor)), max(8, round(height * factor))), interpolation=cv2.INTER_AREA)
        scale *= factor
    for name in rng.choice(["motion_blur", "defocus", "noise", "low_light", "none"], size=int(rng.integers(1, 3)), replace=False):
        if name == "motion_blur":
            out = motion_blur(out, max(3, int(rng.uniform(3, 22) * scale) | 1), float(rng.uniform(0, 180)))
        elif name == "defocus":
            out = defocus(out, max(0.5, float(rng.uniform(0.6, 4.0) * scale)))
        elif name == "noise":
            out = noise(out, float(rng.uniform(4, 25)), int(rng.integers(1 << 30)))
        elif name == "low_light":
            out = low_light(out, float(rng.uniform(0.1, 0.5)), float(rng.uniform(2, 10)), int(rng.integers(1 << 30)))
    if rng.random() < 0.4:
        out = jpeg(out, int(rng.integers(8, 60)))
    if out.shape[:2] != (height, width):
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def crop_occlusion(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An occluder over part of an aligned face (a hand, a microphone, a scarf): a filled ellipse or band
    of random colour over the eyes, the mouth or one side."""
    out = crop.copy()
    size = crop.shape[0]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    centre = (int(rng.uniform(0.15, 0.85) * size), int(rng.uniform(0.3, 0.9) * size))
    axes = (int(rng.uniform(0.15, 0.4) * size), int(rng.uniform(0.08, 0.25) * size))
    cv2.ellipse(out, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return out


def shut_eyes(crop: np.ndarray, eyes: list[int], rng: np.random.Generator, closure: float = 1.0) -> np.ndarray:
    """A blink (both eyes) or a wink (one) on an ArcFace-aligned 112 crop made from the face's own lid:
    the band of upper-lid skin between brow and eye is stretched down over the opening to where the lids
    meet, with a dark lash line there. Closer to a real closed eye than `close_eyes`' flat skin patch
    (the lid keeps its crease, texture and shading), which a network can learn to spot as paint.
    `closure` < 1 lowers the lid only that share of the way down the opening (a half-shut eye)."""
    from ..faces.batch import TEMPLATE

    out = crop.astype(np.float32)
    scale = crop.shape[0] / 112.0
    rows, columns = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]].astype(np.float32)
    for k in eyes:
        x, y = TEMPLATE[k] * scale
        meet, opening_top, lid_top = y + rng.uniform(1.0, 3.0) * scale, y - 5.0 * scale, y - 7.5 * scale
        if closure < 1.0:
            meet = opening_top + closure * (meet - opening_top)
        # rows from lid_top down to meet read the lid band (lid_top to opening_top), stretched
        source_rows = lid_top + np.clip((rows - lid_top) / (meet - lid_top), 0, 1) * (opening_top - lid_top)
        out = _cover(out, crop, columns, source_rows, (x, (lid_top + meet) / 2 + scale), (10 * scale, (meet - lid_top) / 2), scale)
        out = _lash_line(out, x, meet, scale, max(1, round(scale)), rng.uniform(0.5, 0.8) * 0.7)
    return np.clip(out, 0, 255).astype(np.uint8)


def squeeze_eyes(crop: np.ndarray, eyes: list[int], rng: np.random.Generator) -> np.ndarray:
    """A squeezed blink or wink: the skin between brow and lid stretched down and the cheek below the
    eye pushed up until the opening is gone, the lashes a thick dark line where they meet (a hard wink;
    `shut_eyes` closes gently, and its lid band carries what lashes or make-up lie above the opening)."""
    from ..faces.batch import TEMPLATE

    out = crop.astype(np.float32)
    scale = crop.shape[0] / 112.0
    rows, columns = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]].astype(np.float32)
    for k in eyes:
        x, y = TEMPLATE[k] * scale
        meet = y + rng.uniform(-1.0, 2.0) * scale
        # skin from below the brow (brow_gap to skin_bottom) and above the cheek (skin_top to cheek) only
        brow_gap, skin_bottom, skin_top, cheek = y - 10.5 * scale, y - 7.0 * scale, y + 5.0 * scale, y + 10.0 * scale
        upper = brow_gap + np.clip((rows - brow_gap) / (meet - brow_gap), 0, 1) * (skin_bottom - brow_gap)
        lower = cheek - np.clip((cheek - rows) / (cheek - meet), 0, 1) * (cheek - skin_top)
        source_rows = np.where(rows < meet, upper, lower).astype(np.float32)
        out = _cover(out, crop, columns, source_rows, (x, (brow_gap + cheek) / 2), (10 * scale, (cheek - brow_gap) / 2), scale)
        out = _lash_line(out, x, meet, scale, max(1, round(rng.uniform(1.0, 2.5) * scale)), rng.uniform(0.6, 0.9))
    return np.clip(out, 0, 255).astype(np.uint8)


def _cover(out: np.ndarray, crop: np.ndarray, columns: np.ndarray, source_rows: np.ndarray, centre, axes,
           scale: float) -> np.ndarray:
    """`out` with the crop's rows re-read at `source_rows` inside a soft ellipse (centre, half axes)."""
    moved = cv2.remap(crop, columns, source_rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])), 0, 0, 360, 255, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5 * scale).astype(np.float32)[..., None] / 255
    return out * (1 - mask) + moved * mask


def _lash_line(out: np.ndarray, x: float, meet: float, scale: float, thickness: int, darkness: float) -> np.ndarray:
    """`out` darkened by `darkness` along a lash arc just above where the lids meet."""
    lash = np.zeros(out.shape[:2], np.uint8)
    cv2.ellipse(lash, (round(x), round(meet - 2 * scale)), (round(9 * scale), round(2.5 * scale)), 0, 20, 160, 255, thickness)
    lash = cv2.GaussianBlur(lash, (0, 0), 0.6).astype(np.float32)[..., None] / 255
    return out * (1 - darkness * lash)


def close_eyes(crop: np.ndarray, eyes: list[int], rng: np.random.Generator) -> np.ndarray:
    """A blink (both eyes) or a wink (one) painted on an ArcFace-aligned 112 crop: each eye (0 left,
    1 right, at the template's positions) covered by skin of the cheek just below it, with a darker lid
    line. Crude, but the recogniser matches such faces worse (SFace's cosine to the identity centre
    falls by ~0.14 for a blink and ~0.05 for a wink on LFW), which is what the label then teaches."""
    from ..faces.batch import TEMPLATE

    out = crop.astype(np.float32)
    scale = crop.shape[0] / 112.0
    for k in eyes:
        x, y = TEMPLATE[k] * scale
        cheek = crop[int(y + 10 * scale):int(y + 18 * scale), int(x - 8 * scale):int(x + 8 * scale)].reshape(-1, 3)
        colour = np.median(cheek, axis=0).astype(np.float32) if len(cheek) else np.full(3, 128, np.float32)
        centre = (int(round(x)), int(round(y)))
        mask = np.zeros(crop.shape[:2], np.uint8)
        cv2.ellipse(mask, centre, (round(10 * scale), round(6 * scale)), 0, 0, 360, 255, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 1.5 * scale).astype(np.float32)[..., None] / 255
        skin = colour + rng.normal(0, 3, out.shape).astype(np.float32)
        out = out * (1 - mask) + skin * mask
        lid = np.zeros(crop.shape[:2], np.uint8)
        cv2.ellipse(lid, (centre[0], centre[1] + 1), (round(9 * scale), round(3 * scale)), 0, 10, 170, 255, 1)
        lid = 0.6 * cv2.GaussianBlur(lid, (0, 0), 0.7).astype(np.float32)[..., None] / 255
        out = out * (1 - lid) + colour * 0.35 * lid
    return np.clip(out, 0, 255).astype(np.uint8)
