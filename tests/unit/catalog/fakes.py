"""A programmable stand-in for the image classifiers (the vision app's published models and
the backbone's ImageNet head): each test says what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from nunchi.apps.catalog.classifier import Classification


@dataclass
class FakeClassifier:
    """Answers ``projects[name]`` for a published project (absent: not published) and
    ``imagenet`` for the backbone; records the projects asked for."""

    projects: dict[str, Classification] = field(default_factory=dict)
    imagenet_answer: Classification = field(default_factory=lambda: Classification(
        "tabby", 0.9, (("tabby", 0.9),), "imagenet"))
    asked: list[str] = field(default_factory=list)

    def classify(self, project: str, image: Image.Image, top_k: int) -> Classification | None:
        self.asked.append(project)
        return self.projects.get(project)

    def imagenet(self, image: Image.Image, top_k: int) -> Classification:
        self.asked.append("imagenet")
        return self.imagenet_answer


def guess(model: str, *top: tuple[str, float], abstain: bool = False) -> Classification:
    """A classification whose best guess is the first of ``top``."""
    return Classification(None if abstain else top[0][0], top[0][1], tuple(top), model)
