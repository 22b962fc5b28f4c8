"""The catalog app: catalogs with typed attributes and Korean search (food from the MFDS
nutrition table, plants from the curated safety catalog, any imported CSV), Food lens and
Plant guard (photo identification as jobs), their pages, API and commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nunchi.apps.base import App, Figure
from nunchi.apps.catalog.api import catalog_api
from nunchi.apps.catalog.classifier import ImageClassifier
from nunchi.apps.catalog.cli import catalog_cli
from nunchi.apps.catalog.kinds import catalog_kinds
from nunchi.apps.catalog.pages import catalog_pages
from nunchi.apps.catalog.services import CatalogServices
from nunchi.apps.catalog.shipped import SHIPPED, Shipped
from nunchi.core import Core
from nunchi.runtime.background import Background, every

__all__ = ["CATALOG_APP", "WARM_LOOP", "catalog_app"]

WARM_LOOP = "catalog.warm"
"""The background loop that imports the packaged catalogs and builds the search indexes at
start (then keeps them in step with other processes' writes)."""
_WARM_INTERVAL = 30.0


def _background(core: Core, services: CatalogServices) -> Sequence[Background]:
    return [every(WARM_LOOP, _WARM_INTERVAL, services.warm)]


def catalog_app(
    classifier: Callable[[Core], ImageClassifier] | None = None,
    *,
    shipped: Sequence[Shipped] = SHIPPED,
    sync_interval: float = 1.0,
) -> App[CatalogServices]:
    """The catalog app; ``classifier`` builds the image classifier (default: the vision
    app's published models over the backbone), ``shipped`` the packaged catalogs to import."""

    def services(core: Core) -> CatalogServices:
        chosen = classifier(core) if classifier is not None else None
        return CatalogServices(core, chosen, shipped=shipped, sync_interval=sync_interval)

    return App(
        name="catalog",
        title={"ko": "푸드 렌즈 · 식물 가드", "en": "Food lens · Plant guard"},
        summary={
            "ko": "음식 사진으로 영양 정보를, 식물 사진으로 독성 경고를 확인하고, 오타도 "
                  "알아듣는 한국어 검색으로 음식·식물 목록을 찾아봅니다.",
            "en": "Nutrition facts from a food photo, a toxicity warning from a plant photo, "
                  "and typo-tolerant Korean search over the food and plant catalogs.",
        },
        package="nunchi.apps.catalog",
        services=services,
        path="/catalog",
        api_aliases=("catalogs",),
        kinds=lambda core, s: catalog_kinds(s),
        background=_background,
        models=("nunchi.apps.catalog.models",),
        migrations=True,
        api=catalog_api,
        pages=catalog_pages,
        cli=catalog_cli,
        figure=lambda s: Figure(s.figure(), "catalog.figure", "/catalog"),
        order=60,
    )  # fmt: skip


CATALOG_APP = catalog_app()
