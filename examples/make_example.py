"""Make examples/example.mp4: one face, eight one-second segments, each degraded differently but one.

    python examples/make_example.py [--out examples/example.mp4] [--fps 10] [--seconds 1.0]

The face comes from a photo the insightface wheel ships (data/images/t1.jpg), so no data is downloaded.
The clean, frontal segment is where a good selector should pick its frames; the segment table is printed
and written beside the clip as JSON, which the tests read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from fqselect.research import degrade
from fqselect.faces.retinaface import RetinaFaceDetector
from fqselect.quality.perceptual import PoseScorer

SEGMENTS = [
    ("low_light", lambda im, i: degrade.low_light(im, 0.12, 8.0, seed=i)),
    ("motion_blur", lambda im, i: degrade.motion_blur(im, 31, 10.0)),
    ("clean", lambda im, i: im),
    ("downscale", lambda im, i: degrade.downscale(im, 0.1)),
    ("jpeg", lambda im, i: degrade.jpeg(im, 5)),
    ("occluded", lambda im, i: degrade.occlude(im, (0.3, 0.42, 0.7, 0.72))),
    ("head_turn", lambda im, i: degrade.turn_head(im, 0.6)),
    ("defocus", lambda im, i: degrade.defocus(im, 5.0)),
]
FRAME_SIZE = (480, 360)
FRAMING = 0.8  # half the frame height, in face-box heights


def sample_photo() -> np.ndarray:
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    image = cv2.imread(str(path))
    if image is None:
        sys.exit(f"cannot read {path}: is insightface installed?")
    return image


def face_scene(photo: np.ndarray, size=FRAME_SIZE) -> np.ndarray:
    """One face of the photo, framed so that no other face shows, resized to the clip's frame size."""
    detections = RetinaFaceDetector().detect(photo)
    poses = PoseScorer().score(detections)  # the detector's FaceBatch: pose needs only the landmarks
    windows = [_window(box, size) for box in detections.boxes]
    intrusion = [sum(_overlap(w, other) for j, other in enumerate(detections.boxes) if j != i) for i, w in enumerate(windows)]
    best = min(range(len(windows)), key=lambda i: (intrusion[i], -poses[i]))
    x1, y1, x2, y2 = windows[best]
    patch = cv2.getRectSubPix(photo, (int(x2 - x1), int(y2 - y1)), (float(x1 + x2) / 2, float(y1 + y2) / 2))
    return cv2.resize(patch, size, interpolation=cv2.INTER_CUBIC)


def _window(box: np.ndarray, size) -> tuple[float, float, float, float]:
    cx, cy, half = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, (box[3] - box[1]) * FRAMING
    half_w = half * size[0] / size[1]
    return cx - half_w, cy - half, cx + half_w, cy + half


def _overlap(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def render_frames(scene: np.ndarray, fps: int, seconds: float):
    """(frame, segment name) pairs: a little camera shake, then the segment's degradation."""
    per_segment = max(1, round(fps * seconds))
    for s, (name, damage) in enumerate(SEGMENTS):
        for j in range(per_segment):
            i = s * per_segment + j
            shift = np.float32([[1, 0, 4 * np.sin(i / 3)], [0, 1, 3 * np.cos(i / 4)]])
            moved = cv2.warpAffine(scene, shift, FRAME_SIZE, borderMode=cv2.BORDER_REFLECT)
            yield damage(moved, i), name


def make_clip(out: Path, fps: int = 10, seconds: float = 1.0) -> list[dict]:
    """Write the clip and its segment table (JSON beside it); return the table."""
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, FRAME_SIZE)
    if not writer.isOpened():
        sys.exit(f"cannot write {out}")
    table: list[dict] = []
    for index, (frame, name) in enumerate(render_frames(face_scene(sample_photo()), fps, seconds)):
        writer.write(frame)
        if not table or table[-1]["segment"] != name:
            table.append({"segment": name, "first_frame": index, "last_frame": index})
        table[-1]["last_frame"] = index
    writer.release()
    out.with_suffix(".json").write_text(json.dumps({"fps": fps, "segments": table}, indent=2) + "\n")
    return table


# Encoders for the generated clips (PyAV): H.264 as x264 makes it by default (3 B-frames, a keyframe at
# most every 250 frames; preset veryfast, to generate quickly), as IP cameras make it (no B-frames, a
# keyframe every second exactly), and HEVC with x265's defaults (preset veryfast).
ENCODINGS = {
    "h264": ("libx264", {"preset": "veryfast"}),
    "h264-camera": ("libx264", {"preset": "veryfast", "bf": "0", "g": "25", "x264-params": "scenecut=0"}),
    "hevc": ("libx265", {"preset": "veryfast", "x265-params": "log-level=error"}),
}


class EncodedWriter:
    """cv2.VideoWriter's write/release over PyAV, for an encoding of ENCODINGS."""

    def __init__(self, out: Path, encoding: str, fps: int, size):
        import av

        codec, options = ENCODINGS[encoding]
        self.container = av.open(str(out), "w")
        self.stream = self.container.add_stream(codec, rate=fps, options=dict(options))
        self.stream.width, self.stream.height, self.stream.pix_fmt = size[0], size[1], "yuv420p"

    def isOpened(self) -> bool:  # noqa: N802 (cv2.VideoWriter's name)
        return True

    def write(self, image: np.ndarray) -> None:
        import av

        self.container.mux(self.stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))

    def release(self) -> None:
        self.container.mux(self.stream.encode())
        self.container.close()


def make_group_clip(out: Path, size=(1280, 720), frames: int = 300, fps: int = 25, encoding: str | None = None) -> None:
    """A group scene (six faces) with a slow pan and zoom and bursts of blur, for benchmarks and
    multi-person tests: `size` pixels, `frames` long; MPEG-4 Part 2 by OpenCV, or an ENCODINGS one."""
    photo = sample_photo()
    writer = (EncodedWriter(out, encoding, fps, size) if encoding
              else cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size))
    if not writer.isOpened():
        sys.exit(f"cannot write {out}")
    height, width = photo.shape[:2]
    for i in range(frames):
        phase = i / max(1, frames - 1)
        zoom = 1.0 + 0.15 * np.sin(np.pi * phase)
        crop_w, crop_h = width / zoom, width / zoom * size[1] / size[0]
        centre = (width / 2 + 0.05 * width * np.sin(2 * np.pi * phase), min(height / 2, height - crop_h / 2))
        view = cv2.getRectSubPix(photo, (int(crop_w), int(min(crop_h, height))), centre)
        frame = cv2.resize(view, size, interpolation=cv2.INTER_LINEAR)
        if (i // 25) % 3 == 1:  # every third second the camera shakes
            frame = degrade.motion_blur(frame, 21, 15.0 * (i % 7))
        writer.write(frame)
    writer.release()


def face_patches(photo: np.ndarray, count: int, side: int = 150) -> list[np.ndarray]:
    """Square patches (side×side) around the `count` most frontal faces of the photo: different people."""
    detections = RetinaFaceDetector().detect(photo)
    poses = PoseScorer().score(detections)  # the detector's FaceBatch: pose needs only the landmarks
    patches = []
    for i in np.argsort(-poses)[:count]:
        x1, y1, x2, y2 = detections.boxes[i]
        size = 1.6 * max(x2 - x1, y2 - y1)
        patch = cv2.getRectSubPix(photo, (int(size), int(size)), (float(x1 + x2) / 2, float(y1 + y2) / 2))
        patches.append(cv2.resize(patch, (side, side), interpolation=cv2.INTER_CUBIC))
    return patches


def make_people_clip(out: Path, fps: int = 10) -> dict:
    """Two different people on one 640×360 stage, 30 frames: A alone (sharp only in frames 4-6), B alone
    (sharp only in 13-15), then both together, both blurred. Returns and writes (as JSON) who is where."""
    a, b = face_patches(sample_photo(), 2)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 360))
    table = {"fps": fps, "A": {"x": 160, "frames": [], "sharp": [4, 5, 6]}, "B": {"x": 480, "frames": [], "sharp": [13, 14, 15]}}
    for i in range(30):
        stage = np.full((360, 640, 3), 90, np.uint8)
        cast = {"A": a if i < 10 or i >= 20 else None, "B": b if i >= 10 else None}
        for name, patch in cast.items():
            if patch is None:
                continue
            sharp = i in table[name]["sharp"]
            shown = patch if sharp else (degrade.defocus(patch, 3.0) if name == "A" else degrade.motion_blur(patch, 15, 30.0))
            x = table[name]["x"] + int(4 * np.sin(i / 2))
            stage[105:255, x - 75 : x + 75] = shown
            table[name]["frames"].append(i)
        writer.write(stage)
    writer.release()
    out.with_suffix(".json").write_text(json.dumps(table, indent=2) + "\n")
    return table


def make_tracking_clip(out: Path, kind: str, fps: int = 10) -> dict:
    """Tracking trouble on a 640×360 stage, 40 frames, 150 px faces (returns and writes who is where):
    - "overlap": person A on the left in frames 0-19, and A again on the right from frame 15 on; the two
      appearances share half a second, as a tracker's new track often starts before the old one ends.
    - "cross": A walks left to right while B walks right to left; their faces pass over each other."""
    a, b = face_patches(sample_photo(), 2)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 360))
    table: dict = {"fps": fps, "kind": kind, "faces": []}  # per frame: [(name, x centre)]
    for i in range(40):
        stage = np.full((360, 640, 3), 90, np.uint8)
        if kind == "overlap":
            cast = ([("A", a, 160)] if i < 20 else []) + ([("A", a, 480)] if i >= 15 else [])
        else:
            x = 100 + int(440 * i / 39)
            cast = [("A", a, x), ("B", b, 640 - x)] if abs(x - (640 - x)) >= 40 else [("A", a, x)]  # B hidden when A passes in front
        for name, patch, x in cast:
            stage[105:255, x - 75 : x + 75] = patch
        table["faces"].append([(name, x) for name, _, x in cast])
        writer.write(stage)
    writer.release()
    out.with_suffix(".json").write_text(json.dumps(table) + "\n")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("example.mp4"))
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each segment")
    args = parser.parse_args()
    for row in make_clip(args.out, args.fps, args.seconds):
        print(f"{row['segment']:>12}: frames {row['first_frame']}-{row['last_frame']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
