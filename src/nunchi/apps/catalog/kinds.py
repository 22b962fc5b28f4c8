"""The catalog app's job kinds: ``catalog.food_lens`` and ``catalog.plant_guard``, one photo
each (a blob key: ``POST /api/v1/catalog/{food|plant}/identify`` stores the upload and submits
the job; the result is pushed to the page over server-sent events, or polled with
``GET /api/v1/jobs/{id}``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nunchi.apps.catalog.foods import FOOD_KIND
from nunchi.apps.catalog.services import IDENTIFY_KINDS, CatalogServices
from nunchi.apps.catalog.shipped import PLANT_KIND
from nunchi.errors import InvalidInput, NotFound, PermanentError
from nunchi.inputs.images import load_image
from nunchi.jobs.kinds import JobContext, JobKind
from nunchi.runtime.stage import RetryPolicy

__all__ = ["IdentifyInput", "catalog_kinds"]

_EXAMPLE_KEY = "0" * 64


class IdentifyInput(BaseModel):
    """Input of an identify job: the blob key (sha256) of the stored photo."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(pattern=r"^[0-9a-f]{64}$", description="Blob key of the photo.")


def _kind(services: CatalogServices, catalog: str, description: str) -> JobKind[IdentifyInput]:
    def run(ctx: JobContext, data: IdentifyInput) -> dict[str, Any]:
        if ctx.blobs is None:
            raise PermanentError("this process has no blob store to read the photo from")
        try:
            raw = ctx.blobs.get(data.image)
        except NotFound:
            raise PermanentError(f"no stored photo {data.image}: upload it through "
                                 f"POST /api/v1/catalog/{catalog}/identify") from None
        try:
            photo = load_image(raw)
        except InvalidInput as e:
            raise PermanentError(f"the stored photo cannot be read: {e}") from e
        result = services.identify(catalog, photo.image, job_id=ctx.job_id)
        return {**result, "image": data.image}

    return JobKind(
        name=IDENTIFY_KINDS[catalog],
        input_model=IdentifyInput,
        run=run,
        retry=RetryPolicy(max_attempts=2, base_delay=1.0),
        description=description,
        example={"image": _EXAMPLE_KEY},
    )


def catalog_kinds(services: CatalogServices) -> list[JobKind[Any]]:
    """Food lens and Plant guard as job kinds."""
    return [
        _kind(services, FOOD_KIND, "Food lens: the dish in a photo and its nutrition facts."),
        _kind(services, PLANT_KIND, "Plant guard: the plant in a photo and how toxic it is."),
    ]
