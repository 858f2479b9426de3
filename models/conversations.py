"""Conversations with the assistant and every message in them (the self-service half)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.users import User


class ConversationState(enum.StrEnum):
    OPEN = "open"  # nothing answered yet
    CLARIFYING = "clarifying"  # asked one clarifying question, waiting for the reply
    ANSWERED = "answered"  # gave a KB answer, waiting for Solved / Not solved
    SOLVED = "solved"  # requester confirmed the answer helped (deflection)
    HANDED_OFF = "handed_off"  # a ticket carries it now; messages are relayed


class MessageRole(enum.StrEnum):
    REQUESTER = "requester"
    ASSISTANT = "assistant"
    ENGINEER = "engineer"
    SYSTEM = "system"


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Front-end identity of the thread: "cli:<session>" or "slack:<channel>:<thread_ts>".
    key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(20), default="cli")
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[ConversationState] = mapped_column(
        Enum(ConversationState, native_enum=False, length=20), default=ConversationState.OPEN
    )
    question: Mapped[str] = mapped_column(Text, default="")
    clarifications: Mapped[int] = mapped_column(default=0)
    last_article_id: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    requester: Mapped[User] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[MessageRole] = mapped_column(Enum(MessageRole, native_enum=False, length=20))
    # question | answer | clarify | handoff | feedback | relay | notice
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
