"""Training, publishing, predicting and exporting, in process and as jobs, on both databases:
the exported ONNX file gives the probabilities predict gives."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nunchi.analyzers.vision.recipes import recipe
from nunchi.analyzers.vision.trainer import TrainSettings
from nunchi.apps.vision.app import VISION_APP
from nunchi.apps.vision.service import VisionServices
from nunchi.assembly import Platform
from nunchi.errors import Conflict, NotFound, PermanentError
from nunchi.inputs.images import load_image
from tests.integration.jobs.conftest import wait_for
from tests.integration.vision.conftest import photo

pytestmark = pytest.mark.timeout(180)

TAGS = {"red": "빨강", "blue": "파랑", "green": "초록"}


def _fill(vision: VisionServices, name: str, per_tag: int, recipe_name: str = "fast") -> None:
    vision.create_project(name, recipe=recipe_name)
    for colour, tag in TAGS.items():
        files = [(f"{colour}{i}.jpg", photo(colour, i)) for i in range(per_tag)]
        vision.imports.uploads(name, files, tag)


def test_train_publish_predict_and_export_agree(vision: VisionServices) -> None:
    _fill(vision, "colours", 6, "accurate")
    with pytest.raises(NotFound, match="no published iteration"):
        vision.published.predict("colours", [photo("red", 100)])
    done = vision.iterations.train_now("colours", TrainSettings(holdout=0.34))
    assert done.status == "done" and done.number == 1 and done.image_count == 18
    metrics = done.metrics
    assert metrics is not None
    assert metrics["heldout_images"] == 6 and metrics["train_images"] == 12
    assert set(metrics["per_tag"]) == set(TAGS.values())
    assert len(metrics["confusion"]) == 4 and sum(map(sum, metrics["confusion"])) == 6
    assert metrics["top1_accuracy"] >= 5 / 6
    assert [row["threshold"] for row in metrics["thresholds"]][:2] == [0.3, 0.4]
    vision.iterations.publish("colours", 1)
    fresh = [photo(c, 100 + i) for i, c in enumerate(("red", "blue", "green"))]
    answers = vision.published.predict("colours", fresh, top_k=2)
    assert [a.top[0][0] for a in answers] == ["빨강", "파랑", "초록"]
    assert all(len(a.top) == 2 and a.top[0][1] >= a.top[1][1] for a in answers)
    number, data = vision.iterations.export("colours")
    assert number == 1
    model = onnx.load_from_string(data)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["nunchi.project"] == "colours" and meta["nunchi.recipe"] == "accurate"
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    views = np.stack([recipe("accurate").arrays(load_image(p).image, 224) for p in fresh])
    (probs,) = session.run(["probabilities"], {"views": views})
    head = vision.published.model("colours")
    assert head is not None
    expected = head.head.probabilities(vision.published.embed(fresh, "accurate"))
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    for p, a in zip(probs, answers, strict=True):
        assert float(p.max()) == pytest.approx(a.probability, abs=1e-5)


def test_a_new_publication_is_picked_up_and_abstaining_says_none(vision: VisionServices) -> None:
    _fill(vision, "two", 4)
    vision.iterations.train_now("two", TrainSettings(holdout=0.0))
    vision.iterations.publish("two", 1)
    assert vision.published.model("two").iteration == 1  # type: ignore[union-attr]
    strict = vision.iterations.train_now("two", TrainSettings(holdout=0.0, threshold=1.0))
    assert strict.metrics is not None and "no held-out" in strict.metrics["note"]
    vision.iterations.publish("two", 2)
    (answer,) = vision.published.predict("two", [photo("red", 50)])
    assert answer.tag is None and answer.top[0][0] == "빨강"  # below the threshold of 1.0
    listed = vision.iterations.list("two")
    assert [(i.number, i.published) for i in listed] == [(2, True), (1, False)]


def test_training_needs_two_tags_and_unfinished_iterations_are_not_published(
    vision: VisionServices,
) -> None:
    vision.create_project("one", recipe="fast")
    vision.imports.uploads("one", [("a.jpg", photo("red", 1)), ("b.jpg", photo("red", 2))], "r")
    with pytest.raises(PermanentError, match="two tags"):
        vision.iterations.train_now("one", TrainSettings())
    failed = vision.iterations.get("one", 1)
    assert failed.status == "failed" and failed.error and "two tags" in failed.error
    with pytest.raises(Conflict, match="failed"):
        vision.iterations.publish("one", 1)


def test_training_import_and_predict_run_as_jobs(open_vision: Callable[..., Platform]) -> None:
    platform = open_vision()
    vision = platform.services(VISION_APP)
    _fill(vision, "jobs", 4)
    platform.start(["jobs.vision.train", "jobs.vision.predict"])
    try:
        iteration, job = vision.iterations.request("jobs", TrainSettings(holdout=0.25), "tester")
        assert iteration.number == 1  # queued, or already running: the worker is quick
        wait_for(lambda: platform.jobs.get(job.id).status == "succeeded", what="training job")
        assert vision.iterations.get("jobs", 1).status == "done"
        assert vision.iterations.get("jobs", 1).job_id == job.id
        direct = platform.jobs.submit("vision.train", {"project": "jobs", "settings": {}})
        wait_for(lambda: platform.jobs.get(direct.id).status == "succeeded", what="direct job")
        assert platform.jobs.get(direct.id).result["iteration"] == 2  # type: ignore[index]
        vision.iterations.publish("jobs", 2)
        keys = [platform.core.blobs.put(photo(c, 70)) for c in ("blue", "green")]
        predict = platform.jobs.submit("vision.predict", {"project": "jobs", "images": keys})
        wait_for(lambda: platform.jobs.get(predict.id).status == "succeeded", what="predict")
        result = platform.jobs.get(predict.id).result
        assert result is not None
        assert [p["top"][0][0] for p in result["predictions"]] == ["파랑", "초록"]
        assert [p["image"] for p in result["predictions"]] == keys
        missing = platform.jobs.submit("vision.predict", {"project": "jobs", "images": ["0" * 64]})
        wait_for(lambda: platform.jobs.get(missing.id).status == "failed", what="missing photo")
        failed = platform.jobs.get(missing.id)
        assert failed.attempts == 1 and "no blob" in str(failed.error)  # not retried
    finally:
        platform.stop()
