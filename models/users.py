"""People: requesters, engineers (with tier memberships) and admins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Role(enum.StrEnum):
    REQUESTER = "requester"
    ENGINEER = "engineer"
    ADMIN = "admin"


class Tier(enum.StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    def next_up(self) -> Tier | None:
        order = list(Tier)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None

    def next_down(self) -> Tier | None:
        order = list(Tier)
        i = order.index(self)
        return order[i - 1] if i > 0 else None


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable identity from the front end: a Slack user id ("U024BE7LH") or "cli:alice".
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20), default=Role.REQUESTER)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[TierMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def tiers(self) -> frozenset[Tier]:
        return frozenset(m.tier for m in self.memberships)

    @property
    def label(self) -> str:
        return self.display_name or self.external_id


class TierMembership(Base):
    __tablename__ = "tier_memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[Tier] = mapped_column(Enum(Tier, native_enum=False, length=4), primary_key=True)

    user: Mapped[User] = relationship(back_populates="memberships")
