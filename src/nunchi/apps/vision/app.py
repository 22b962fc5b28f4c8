"""The vision app: self-hosted image classifiers (the Custom Vision workflow): projects with
tags, images by upload, zip or URL list, training as a job, iterations with held-out metrics,
publishing, predictions and a one-file ONNX export; a demo plant classifier out of the box."""

from __future__ import annotations

from nunchi.apps.base import App, Figure
from nunchi.apps.vision.api import vision_api
from nunchi.apps.vision.cli import vision_cli
from nunchi.apps.vision.kinds import vision_kinds
from nunchi.apps.vision.pages import vision_pages
from nunchi.apps.vision.service import VisionServices

__all__ = ["VISION_APP"]

VISION_APP: App[VisionServices] = App(
    name="vision",
    title={"ko": "이미지 분류 모델", "en": "Image classifiers"},
    summary={
        "ko": "사진으로 나만의 이미지 분류기를 학습하고, 평가하고, 게시하고, ONNX로 내려받습니다.",
        "en": "Train your own image classifiers from photos, measure, publish, export as ONNX.",
    },
    package="nunchi.apps.vision",
    services=VisionServices,
    path="/vision",
    kinds=vision_kinds,
    models=("nunchi.apps.vision.models",),
    migrations=True,
    api=vision_api,
    pages=vision_pages,
    cli=vision_cli,
    figure=lambda s: Figure(s.published_count(), "vision.figure", "/vision"),
    order=50,
)
