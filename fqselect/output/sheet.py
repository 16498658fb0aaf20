"""`contact_sheet.png`: the picked crops of an --out folder, a row per input or person, from its manifests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SHEET = "contact_sheet.png"
SHEET_ROWS = 200  # a contact sheet of a huge batch shows its first inputs; the page lists them all
CROP = 112
LABEL_WIDTH = 260


def input_file(entry: dict, file: str | None) -> str | None:
    """A file of the input's output folder, relative to the report."""
    return f"{entry['folder']}/{Path(file).name}" if file else None


def write_sheet(out: Path, inputs: list[dict]) -> Path:
    rows = []
    for entry in inputs:
        groups = ([(f"{Path(entry['input']).name} · person {p['id']}" + (f" {p['identity']}" if p.get("identity") else ""),
                    [f for f in entry["faces"] if f.get("person") == p["id"]]) for p in entry["persons"]]
                  if entry.get("persons") else [(Path(entry["input"]).name, entry["faces"])])
        for label, faces in groups:
            crops = [_read_crop(out, entry, f) for f in faces]
            rows.append((label, crops, [caption(f) for f in faces]))
            if len(rows) >= SHEET_ROWS:
                break
    columns = max((len(c) for _, c, _ in rows), default=1)
    sheet = np.full((max(1, len(rows)) * (CROP + 20), LABEL_WIDTH + columns * (CROP + 6), 3), 255, np.uint8)
    for r, (label, crops, captions) in enumerate(rows):
        top = r * (CROP + 20)
        cv2.putText(sheet, label[:34], (6, top + CROP // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
        for c, (crop, text) in enumerate(zip(crops, captions)):
            left = LABEL_WIDTH + c * (CROP + 6)
            sheet[top : top + CROP, left : left + CROP] = crop
            cv2.putText(sheet, f"#{c + 1} {text}", (left, top + CROP + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (40, 40, 40), 1, cv2.LINE_AA)
    path = out / SHEET
    cv2.imencode(".png", sheet)[1].tofile(str(path))
    return path


def caption(face: dict) -> str:
    """What a crop is labelled with: its score (log-odds, what it was ranked by: good faces' qualities all
    read 0.99 or more), or its quality where the run gave no score."""
    return f"score {face['score']:.1f}" if face.get("score") is not None else f"quality {face['quality']:.3f}"


def _read_crop(out: Path, entry: dict, face: dict) -> np.ndarray:
    file = input_file(entry, face.get("crop_file"))
    crop = cv2.imread(str(out / file)) if file else None
    if crop is None:
        return np.full((CROP, CROP, 3), 200, np.uint8)
    return cv2.resize(crop, (CROP, CROP)) if crop.shape[:2] != (CROP, CROP) else crop
