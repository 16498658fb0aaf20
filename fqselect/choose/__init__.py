"""Stage 4, choose: which faces become picks (a picker per mode: the input's top k, or each person's),
persons linked from faces, and gallery names."""

from .pickers import PersonPicker, Picker, Selection, TopKPicker
from .topk import Candidate

__all__ = ["PersonPicker", "Picker", "Selection", "TopKPicker", "Candidate"]
