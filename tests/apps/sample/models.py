"""The sample app's one table."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from nunchi.store.base import Base

__all__ = ["SampleNote", "notes_table"]


class SampleNote(Base):
    """A note the sample stage stored."""

    __tablename__ = "sample_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(String(200))


notes_table = cast(Table, SampleNote.__table__)
