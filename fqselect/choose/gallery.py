"""`--gallery DIR`: known people as `DIR/<name>/<images>`, one template a name, that persons are named by."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..decode import folder_images, read_image
from ..errors import InputError, UsageError
from ..faces import detect_and_align
from ..faces.recognize import quality_weighted_mean


class Gallery:
    """Known people from `<name>/<images>`: one template per name from its images' largest faces."""

    def __init__(self, folder: str | Path, detector, recognizer, threshold: float | None = None):
        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(f"{folder}: gallery folder not found (expected <name>/<images>)")
        names, templates = [], []
        for person in sorted(p for p in folder.iterdir() if p.is_dir()):
            crops = []
            for image_path in folder_images(person):
                try:
                    faces = detect_and_align(read_image(image_path), detector)
                except InputError:
                    continue
                if len(faces):
                    crops.append(faces.crops[int(np.argmax(np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1)))])
            if crops:
                embeddings = recognizer.embed(np.stack(crops))
                names.append(person.name)
                templates.append(quality_weighted_mean(embeddings, np.ones(len(embeddings))))
        if not names:
            raise UsageError(f"{folder}: no face found in any <name>/<images> folder of the gallery")
        self.names, self.templates = names, np.stack(templates)
        self.match = recognizer.points["match"] if threshold is None else threshold

    def label(self, embedding: np.ndarray) -> tuple[str, float]:
        similarity = self.templates @ embedding
        best = int(np.argmax(similarity))
        return (self.names[best] if similarity[best] >= self.match else "unknown"), float(similarity[best])
