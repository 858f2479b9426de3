"""SQLAlchemy models and sessions. Importing this package registers every table on `Base.metadata`."""

from models.base import Base, utcnow
from models.conversations import Conversation, ConversationState, Message, MessageRole
from models.kb import KBArticle, KBArticleVersion
from models.ml import ClassifierModel
from models.tickets import OutboxMessage, Priority, Ticket, TicketEvent, TicketStatus
from models.users import Role, Tier, TierMembership, User

__all__ = [
    "Base",
    "ClassifierModel",
    "Conversation",
    "ConversationState",
    "KBArticle",
    "KBArticleVersion",
    "Message",
    "MessageRole",
    "OutboxMessage",
    "Priority",
    "Role",
    "Ticket",
    "TicketEvent",
    "TicketStatus",
    "Tier",
    "TierMembership",
    "User",
    "utcnow",
]
