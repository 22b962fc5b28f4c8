"""The demo project ``plants-demo``: a published five-flower classifier on a fresh install.

The head and its card ship in ``nunchi/apps/vision/data/`` (made by
``nunchi.training.vision.demo_plants``; photos credited in ``NOTICE-flowers.md``). The first
time a store is opened with the vision app, :func:`seed_demo` writes the head to the blob
store and creates the project, its tags and iteration 1 (done, with the card's held-out
figures, published) in one transaction, and records that it did: a demo deleted later is
not brought back. Opening the store again, in any number of processes at once, changes
nothing. The project has no images: it was trained on photos that are not shipped.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.apps.vision.models import (
    VisionSeed,
    iterations_table,
    projects_table,
    seeds_table,
    tags_table,
)
from nunchi.core import Core
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow

__all__ = ["DEMO_PROJECT", "demo_card", "seed_demo"]

DEMO_PROJECT = "plants-demo"


def _data(name: str) -> bytes:
    return resources.files("nunchi.apps.vision").joinpath("data", name).read_bytes()


def demo_card() -> dict[str, Any]:
    """The shipped card of the demo classifier."""
    card: dict[str, Any] = json.loads(_data(f"{DEMO_PROJECT}.json"))
    return card


def seed_demo(core: Core) -> bool:
    """Create the published demo project unless it was seeded before; True if it was now."""
    with core.sessions() as s:
        if s.get(VisionSeed, DEMO_PROJECT) is not None:
            return False
    card = demo_card()
    head_bytes = _data(f"{DEMO_PROJECT}.npz")
    head = ClassifierHead.from_bytes(head_bytes)  # refuse a broken file before writing
    key = core.blobs.put(head_bytes, "application/x-npz")
    now = utcnow()
    project_id, iteration_id = new_id(), new_id()
    description = f"{card['description']['ko']}\n{card['description']['en']}"
    try:
        with core.sessions.begin() as s:
            s.execute(insert(seeds_table), [{"name": DEMO_PROJECT, "applied_at": now}])
            taken = s.scalar(
                select(projects_table.c.id).where(projects_table.c.name == DEMO_PROJECT)
            )
            if taken is not None:  # a user's own project of that name: leave it alone
                return False
            s.execute(
                insert(projects_table),
                [
                    {
                        "id": project_id,
                        "name": DEMO_PROJECT,
                        "description": description,
                        "recipe": card["recipe"],
                        "keep_originals": False,
                        "published_iteration_id": iteration_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            s.execute(
                insert(tags_table),
                [{"project_id": project_id, "name": t, "created_at": now} for t in head.tags],
            )
            s.execute(
                insert(iterations_table),
                [
                    {
                        "id": iteration_id,
                        "project_id": project_id,
                        "number": 1,
                        "status": "done",
                        "settings": {**card["settings"], "seeded_from": f"{DEMO_PROJECT}.json"},
                        "metrics": {**card["metrics"], "figures": card["figures"]},
                        "error": None,
                        "head_key": key,
                        "job_id": None,
                        "image_count": int(card["metrics"]["images"]),
                        "published": True,
                        "published_at": now,
                        "created_at": now,
                        "finished_at": now,
                    }
                ],
            )
    except IntegrityError:
        return False  # another process seeded it at the same moment
    return True
