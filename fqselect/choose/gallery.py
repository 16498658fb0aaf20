"""`--gallery DIR`: known people, one template a name, that persons are named by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Gallery:
    """Names and their templates (unit embeddings, one row a name); a person takes the name whose template
    it matches best, at or above `match` (the recogniser's FMR 1e-3 point unless told otherwise)."""

    names: list[str]
    templates: np.ndarray
    match: float

    def label(self, embedding: np.ndarray) -> tuple[str, float]:
        similarity = self.templates @ embedding
        best = int(np.argmax(similarity))
        return (self.names[best] if similarity[best] >= self.match else "unknown"), float(similarity[best])
