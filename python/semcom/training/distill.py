"""Knowledge distillation: a student decoder learns from a shipped model's decoder (the teacher).

A config's ``distill`` section, ``{"from": MODEL_FOLDER, "weight": w}``, builds the teacher from the
config's model section with the teacher's own decoder widths (``decoder_channels`` dropped) and the
weights of the exported folder. The teacher decodes exactly what the student's decoder reads (the
same bits through the same channel draw), and the stage's loss gains ``w * MSE(student, teacher)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import SemcomError
from . import models


class Distiller:
    def __init__(self, spec: dict, model_cfg: dict, student: torch.nn.Module, device: torch.device):
        if not isinstance(spec, dict) or not isinstance(spec.get("from"), str):
            raise SemcomError(f"config distill must be {{\"from\": MODEL_FOLDER, \"weight\": w}}, got {spec!r}")
        if not hasattr(student, "decoder"):
            raise SemcomError("config distill: the model has no decoder to distil into")
        from .export import load_onnx_weights
        self.weight = float(spec.get("weight", 1.0))
        self.teacher = models.build({**model_cfg, "decoder_channels": None})
        load_onnx_weights(self.teacher, spec["from"])
        self.teacher = self.teacher.decoder.to(device).eval().requires_grad_(False)
        self._input = None
        student.decoder.register_forward_pre_hook(self._record)

    def _record(self, module, args):
        self._input = args[0].detach()

    def to(self, **kwargs) -> "Distiller":
        self.teacher.to(**kwargs)
        return self

    def loss(self, out: torch.Tensor) -> torch.Tensor:
        """``weight`` x MSE between the student's output ``out`` and the teacher's image of the input
        the student's decoder read last."""
        with torch.no_grad():
            target = self.teacher(self._input).float()
        return self.weight * F.mse_loss(out, target)
