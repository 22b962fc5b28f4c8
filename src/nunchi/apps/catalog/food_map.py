"""Food lens out of the box: the backbone's ImageNet food classes mapped to dishes of the
MFDS nutrition table (by 식품코드, the item key), best match first.

Written by hand for this project from the table's names (``foods-mfds-2023-12-27.csv.gz``).
Analysed generic dishes (업체명 해당없음) are preferred; a franchise item stands in where the
table has no generic one (burrito, espresso, French loaf, guacamole, potpie). ``exact`` False
marks a stand-in that is only close: the result card says so. ImageNet food classes left
out: raw produce (head cabbage, broccoli, mushroom, fruit, squash ...) because the table holds
dishes, not ingredients; and trifle, ice lolly, chocolate sauce, dough, red wine, eggnog, for
which it has no fitting item. A published ``food`` project overrides all of this.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGENET_FOODS", "FoodClass"]


@dataclass(frozen=True)
class FoodClass:
    """An ImageNet class, the catalog keys it stands for (best first) and whether the first
    one is the same dish (``exact``) or the closest the table has."""

    label: str
    keys: tuple[str, ...]
    exact: bool = True


_CLASSES = (
    FoodClass("pizza", ("D302-120340000-0001", "D102-120350000-0001", "D302-120410000-0001")),
    # 피자_치즈피자, 피자_콤비네이션피자, 피자_페퍼로니피자
    FoodClass("cheeseburger", ("D302-123320000-0001", "D102-123000000-0001")),
    # 햄버거_치즈, 햄버거
    FoodClass("hotdog", ("D302-122000000-0001", "D302-122160000-0001")),  # 핫도그, _모짜렐라
    FoodClass("ice cream", ("D319-711030000-0001", "D219-711000000-0082")),
    # 아이스크림_썬대, 아이스크림_바닐라 (배스킨라빈스)
    FoodClass("bagel", ("D102-095000000-0001",)),  # 베이글
    FoodClass("pretzel", ("D302-119000000-0001",)),  # 프레즐
    FoodClass("burrito", ("D202-083000000-0011", "D202-083000000-0008")),
    # 또띠아_소고기 브리또 (이디야), 또띠아_불고기 브리또 (카페띠아모)
    FoodClass("carbonara", ("D303-161080000-0001", "D303-161480000-0001")),
    # 스파게티_까르보나라소스, 스파게티_크림소스
    FoodClass("guacamole", ("D214-640000000-0001",), exact=False),
    # 샐러드_과카몰리치킨샐러드 (투썸 플레이스): no plain guacamole in the table
    FoodClass("hot pot", ("D306-303180000-0001", "D106-289000000-0001")),
    # 훠궈_소고기, 소고기전골
    FoodClass("espresso", ("D220-748000000-0334", "D220-748000000-0332")),
    # 커피_에스프레소 (Solo) (스타벅스), 커피_에스프레소 (R) (드롭탑)
    FoodClass("French loaf", ("D202-090000000-0027",)),  # 바게트_파리의 바게뜨 (파리바게뜨)
    FoodClass("mashed potato", ("D114-640020000-0001", "D107-307170000-0001"), exact=False),
    # 샐러드_감자 (mashed, with mayonnaise), 감자_찐감자
    FoodClass("meat loaf", ("D108-404000000-0001",), exact=False),  # 함박스테이크
    FoodClass("potpie", ("D202-116000000-0007", "D202-116000000-0002")),
    # 파이/만주_치킨 팟파이, 파이/만주_베이컨 치즈 팟파이 (카페띠아모)
    FoodClass("consomme", ("D304-185040000-0001",), exact=False),  # 스프_소고기
)

IMAGENET_FOODS: dict[str, FoodClass] = {c.label: c for c in _CLASSES}
"""ImageNet label (as in the backbone's labels file) -> its food class."""
