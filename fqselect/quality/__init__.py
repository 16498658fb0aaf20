"""Stage 3, quality: how well each aligned face will be recognised (the tiny network, the perceptual
baselines) and how open its eyes are."""

from .scorers import Scorer, load_scorer, scorer_name

__all__ = ["Scorer", "load_scorer", "scorer_name"]
