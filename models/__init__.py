"""SQLAlchemy models and sessions. Importing this package registers every table on `Base.metadata`."""

from models.base import Base, utcnow
from models.conversations import Conversation, ConversationState, Message, MessageRole
from models.kb import KBArticle, KBArticleVersion
from models.learning import (
    AlertStatus,
    DraftStatus,
    IncidentStatus,
    IncidentTicket,
    KBDraft,
    MajorIncident,
    SpikeAlert,
    SpikeAlertTicket,
    TicketEmbedding,
    TicketLink,
)
from models.ml import ClassifierModel
from models.slack import SlackEventReceipt, SlackThread
from models.tickets import OutboxMessage, Priority, Ticket, TicketEvent, TicketStatus
from models.users import Role, Tier, TierMembership, User

__all__ = [
    "AlertStatus",
    "Base",
    "ClassifierModel",
    "Conversation",
    "ConversationState",
    "DraftStatus",
    "IncidentStatus",
    "IncidentTicket",
    "KBArticle",
    "KBArticleVersion",
    "KBDraft",
    "MajorIncident",
    "Message",
    "MessageRole",
    "OutboxMessage",
    "Priority",
    "Role",
    "SlackEventReceipt",
    "SlackThread",
    "SpikeAlert",
    "SpikeAlertTicket",
    "Ticket",
    "TicketEmbedding",
    "TicketEvent",
    "TicketLink",
    "TicketStatus",
    "Tier",
    "TierMembership",
    "User",
    "utcnow",
]
