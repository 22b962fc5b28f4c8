"""Iterations: training a project's classifier (as a ``vision.train`` job or in-process),
reading iterations, publishing one, exporting it as one ONNX file.

An iteration is created ``queued`` when training is asked for, becomes ``training`` when it
runs and ``done`` (head file in the blob store, held-out metrics) or ``failed`` (the error).
Running it again after it is done changes nothing (a redelivered job is harmless).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from nunchi.analyzers.vision.head import ClassifierHead
from nunchi.analyzers.vision.onnx_export import set_metadata
from nunchi.analyzers.vision.onnx_views import recipe_classifier_model
from nunchi.analyzers.vision.recipes import EmbeddingRecipe
from nunchi.analyzers.vision.recipes import recipe as recipe_named
from nunchi.analyzers.vision.trainer import TrainSettings, train_classifier
from nunchi.apps.vision.images import decode_embedding
from nunchi.apps.vision.models import (
    VisionImage,
    VisionIteration,
    VisionProject,
    VisionTag,
    iterations_table,
    projects_table,
)
from nunchi.apps.vision.queries import iteration_out, project_row
from nunchi.apps.vision.schemas import IterationOut
from nunchi.core import Core
from nunchi.errors import Conflict, InvalidInput, NotFound, PermanentError
from nunchi.jobs.schemas import JobOut
from nunchi.store.ids import new_id
from nunchi.store.types import utcnow

__all__ = ["TRAIN_KIND", "Iterations"]

TRAIN_KIND = "vision.train"


class Iterations:
    """Training, listing, publishing and exporting a project's iterations."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- creating and running ------------------------------------------------------------

    def _create(self, project: str, settings: TrainSettings, job_id: str | None) -> int:
        for _ in range(5):
            try:
                with self.core.sessions.begin() as s:
                    row = project_row(s, project)
                    last = s.scalar(
                        select(func.max(VisionIteration.number)).where(
                            VisionIteration.project_id == row.id
                        )
                    )
                    number = int(last or 0) + 1
                    s.execute(
                        insert(iterations_table),
                        [
                            {
                                "id": new_id(),
                                "project_id": row.id,
                                "number": number,
                                "status": "queued",
                                "settings": settings.to_dict(),
                                "job_id": job_id,
                                "image_count": 0,
                                "published": False,
                                "created_at": utcnow(),
                            }
                        ],
                    )
                return number
            except IntegrityError:
                continue  # another iteration took this number: take the next
        raise Conflict("could not number the new iteration; try again")  # pragma: no cover

    def request(
        self, project: str, settings: TrainSettings, actor: str | None
    ) -> tuple[IterationOut, JobOut]:
        """A ``queued`` iteration and the ``vision.train`` job that will run it."""
        number = self._create(project, settings, None)
        try:
            job = self.core.jobs.submit(
                TRAIN_KIND, {"project": project, "iteration": number}, actor=actor
            )
        except BaseException as e:
            self._finish(project, number, error=f"the training job could not be queued: {e}")
            raise
        with self.core.sessions.begin() as s:
            row = project_row(s, project)
            s.execute(
                update(iterations_table)
                .where(iterations_table.c.project_id == row.id)
                .where(iterations_table.c.number == number)
                .values(job_id=job.id)
            )
        return self.get(project, number), job

    def run(
        self,
        project: str,
        number: int | None,
        settings: TrainSettings | None,
        *,
        job_id: str | None = None,
        final_attempt: bool = True,
    ) -> IterationOut:
        """Train iteration ``number`` (or the one of ``job_id``, created with ``settings``
        when there is none yet). A user error (too few tags) fails it without retry; another
        error fails it on the final attempt and is raised either way."""
        if number is None:
            number = self._by_job(project, job_id) or self._create(
                project, settings or TrainSettings(), job_id
            )
        with self.core.sessions.begin() as s:
            row = project_row(s, project)
            it = self._row(s, row.id, number)
            if it.status == "done":
                return iteration_out(it)
            it.status, it.error = "training", None
            chosen = TrainSettings(**it.settings)
            project_id, recipe_name = row.id, row.recipe
        try:
            vectors, tags = self._embeddings(project_id, recipe_name)
            trained = train_classifier(vectors, tags, chosen, backbone=f"lite0/{recipe_name}")
            key = self.core.blobs.put(trained.head.to_bytes(), "application/x-npz")
        except InvalidInput as e:
            self._finish(project, number, error=str(e))
            raise PermanentError(str(e)) from e
        except BaseException as e:
            if final_attempt:
                self._finish(project, number, error=f"{type(e).__name__}: {e}")
            raise
        return self._finish(
            project, number, metrics=trained.metrics, head_key=key, image_count=len(tags)
        )

    def train_now(self, project: str, settings: TrainSettings) -> IterationOut:
        """Create and run an iteration in this process (the command line)."""
        return self.run(project, self._create(project, settings, None), None)

    def _by_job(self, project: str, job_id: str | None) -> int | None:
        if job_id is None:
            return None
        with self.core.sessions() as s:
            row = project_row(s, project)
            found = s.scalar(
                select(VisionIteration.number).where(
                    VisionIteration.project_id == row.id, VisionIteration.job_id == job_id
                )
            )
        return int(found) if found is not None else None

    def _embeddings(self, project_id: str, recipe_name: str) -> tuple[np.ndarray, list[str]]:
        with self.core.sessions() as s:
            rows = s.execute(
                select(VisionTag.name, VisionImage.embedding)
                .join(VisionTag, VisionTag.id == VisionImage.tag_id)
                .where(VisionImage.project_id == project_id, VisionImage.recipe == recipe_name)
                .order_by(VisionImage.id)
            ).all()
        if not rows:
            raise InvalidInput("the project has no images yet: add tagged photos, then train")
        return np.stack([decode_embedding(e) for _, e in rows]), [str(t) for t, _ in rows]

    def _finish(
        self,
        project: str,
        number: int,
        *,
        error: str | None = None,
        metrics: dict[str, Any] | None = None,
        head_key: str | None = None,
        image_count: int = 0,
    ) -> IterationOut:
        with self.core.sessions.begin() as s:
            row = project_row(s, project)
            it = self._row(s, row.id, number)
            it.status = "failed" if error is not None else "done"
            it.error, it.metrics, it.head_key = error, metrics, head_key
            it.image_count, it.finished_at = image_count, utcnow()
            s.flush()
            return iteration_out(it)

    # -- reading, publishing, exporting ------------------------------------------------------

    @staticmethod
    def _row(s: Any, project_id: str, number: int) -> VisionIteration:
        it: VisionIteration | None = s.scalar(
            select(VisionIteration).where(
                VisionIteration.project_id == project_id, VisionIteration.number == number
            )
        )
        if it is None:
            raise NotFound(f"no iteration {number} in this project")
        return it

    def list(self, project: str) -> list[IterationOut]:
        """The project's iterations, newest first."""
        with self.core.sessions() as s:
            row = project_row(s, project)
            rows = s.scalars(
                select(VisionIteration)
                .where(VisionIteration.project_id == row.id)
                .order_by(VisionIteration.number.desc())
            ).all()
            return [iteration_out(r) for r in rows]

    def get(self, project: str, number: int) -> IterationOut:
        """Iteration ``number`` of the project."""
        with self.core.sessions() as s:
            return iteration_out(self._row(s, project_row(s, project).id, number))

    def publish(self, project: str, number: int) -> IterationOut:
        """Make iteration ``number`` (done) the one predictions use."""
        now = utcnow()
        with self.core.sessions.begin() as s:
            row = project_row(s, project)
            it = self._row(s, row.id, number)
            if it.status != "done":
                raise Conflict(f"iteration {number} is {it.status}; only a done one is published")
            s.execute(
                update(iterations_table)
                .where(iterations_table.c.project_id == row.id)
                .where(iterations_table.c.id != it.id)
                .values(published=False)
            )
            it.published, it.published_at = True, now
            s.execute(
                update(projects_table)
                .where(projects_table.c.id == row.id)
                .values(published_iteration_id=it.id, updated_at=now)
            )
            s.flush()
            return iteration_out(it)

    def head(
        self, project: str, number: int | None = None
    ) -> tuple[int, ClassifierHead, EmbeddingRecipe]:
        """``(number, head, recipe)`` of iteration ``number`` (default: the published one)."""
        with self.core.sessions() as s:
            row: VisionProject = project_row(s, project)
            if number is None:
                it = s.get(VisionIteration, row.published_iteration_id or "")
                if it is None:
                    raise NotFound(f"project {project!r} has no published iteration; publish one")
            else:
                it = self._row(s, row.id, number)
            if it.head_key is None:
                raise Conflict(f"iteration {it.number} is {it.status}: it has no classifier")
            found = (it.number, it.head_key, row.recipe)
        return (
            found[0],
            ClassifierHead.from_bytes(self.core.blobs.get(found[1])),
            recipe_named(found[2]),
        )

    def export(self, project: str, number: int | None = None) -> tuple[int, bytes]:
        """Iteration ``number`` (default: the published one) as one ONNX file's bytes."""
        n, head, chosen = self.head(project, number)
        proto = recipe_classifier_model(head, chosen)
        set_metadata(proto, {"nunchi.project": project, "nunchi.iteration": str(n)})
        return n, proto.SerializeToString()
