"""The one settings object, built in the composition root and passed down as plain arguments.

Every field reads an environment variable (or `.env`); `.env.example` documents each one and a
test keeps the two in step. Lower packages (`kb_index`, `classifier`, `models`) never read the
environment themselves.

An empty variable means "the default": `.env.example` leaves optional settings blank, and a copy of
it must work as it is. Numbers are checked against the range they make sense in, so a typo stops
the command with the variable's name instead of silently disabling a feature (a threshold of 5
that nothing ever reaches, a worker interval of -5 that spins).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    # --- core -------------------------------------------------------------------------------
    database_url: str = Field("sqlite:///var/tierline.db", validation_alias="DATABASE_URL")
    data_dir: Path = Field(Path("var"), validation_alias="TIERLINE_DATA_DIR")
    log_level: str = Field("INFO", validation_alias="TIERLINE_LOG_LEVEL")
    ticket_prefix: str = Field("IT", validation_alias="TIERLINE_TICKET_PREFIX")

    # --- knowledge base ---------------------------------------------------------------------
    kb_index_dir: Path | None = Field(None, validation_alias="TIERLINE_KB_INDEX_DIR")
    kb_encoder: str = Field("minilm", validation_alias="TIERLINE_KB_ENCODER")
    # None: use the threshold that `tierline kb calibrate` wrote into the index manifest.
    kb_answer_threshold: float | None = Field(None, ge=0, le=1, validation_alias="TIERLINE_KB_THRESHOLD")
    kb_top_k: int = Field(3, ge=1, validation_alias="TIERLINE_KB_TOP_K")
    kb_sources: str = Field("examples/kb", validation_alias="TIERLINE_KB_SOURCES")

    # --- classifier -------------------------------------------------------------------------
    models_dir: Path | None = Field(None, validation_alias="TIERLINE_MODELS_DIR")
    category_threshold: float = Field(0.45, ge=0, le=1, validation_alias="TIERLINE_CATEGORY_THRESHOLD")
    priority_threshold: float = Field(0.40, ge=0, le=1, validation_alias="TIERLINE_PRIORITY_THRESHOLD")
    promotion_tolerance: float = Field(0.01, ge=0, le=1, validation_alias="TIERLINE_PROMOTION_TOLERANCE")
    rare_label_min: int = Field(10, ge=0, validation_alias="TIERLINE_RARE_LABEL_MIN")
    demo_tickets: Path = Field(Path("examples/tickets.csv"), validation_alias="TIERLINE_DEMO_TICKETS")

    # --- workflow ---------------------------------------------------------------------------
    routing_file: Path = Field(Path("examples/routing.yml"), validation_alias="TIERLINE_ROUTING")
    worker_interval_seconds: float = Field(15.0, gt=0, validation_alias="TIERLINE_WORKER_INTERVAL")

    # --- learning loop -------------------------------------------------------------------
    spike_window_minutes: float = Field(60.0, gt=0, validation_alias="TIERLINE_SPIKE_WINDOW_MINUTES")
    spike_min_tickets: int = Field(5, ge=2, validation_alias="TIERLINE_SPIKE_MIN_TICKETS")
    spike_similarity: float = Field(0.60, ge=0, le=1, validation_alias="TIERLINE_SPIKE_SIMILARITY")
    kb_same_topic: float = Field(0.70, ge=0, le=1, validation_alias="TIERLINE_KB_SAME_TOPIC")
    similar_min: float = Field(0.45, ge=0, le=1, validation_alias="TIERLINE_SIMILAR_MIN")
    # A new ticket this close to an active major incident's tickets is linked to it.
    incident_join_similarity: float = Field(
        0.60, ge=0, le=1, validation_alias="TIERLINE_INCIDENT_JOIN_SIMILARITY"
    )
    similar_resolved_days: int = Field(90, ge=0, validation_alias="TIERLINE_SIMILAR_RESOLVED_DAYS")
    kb_stale_days: int = Field(180, ge=1, validation_alias="TIERLINE_KB_STALE_DAYS")
    kb_gap_similarity: float = Field(0.55, ge=0, le=1, validation_alias="TIERLINE_KB_GAP_SIMILARITY")

    # --- Slack ------------------------------------------------------------------------------
    slack_bot_token: str | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    slack_support_channels: str = Field("", validation_alias="TIERLINE_SUPPORT_CHANNELS")
    slack_mentions_anywhere: bool = Field(True, validation_alias="TIERLINE_MENTIONS_ANYWHERE")
    slack_tier_channels: str = Field("", validation_alias="TIERLINE_TIER_CHANNELS")
    slack_tier_usergroups: str = Field("", validation_alias="TIERLINE_TIER_USERGROUPS")
    slack_admins: str = Field("", validation_alias=AliasChoices("TIERLINE_ADMINS", "TIERLINE_SLACK_ADMINS"))
    http_port: int = Field(3000, ge=0, le=65535, validation_alias="PORT")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        # logging.basicConfig raises a bare ValueError deep inside `serve` for a name it lacks.
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url and method name by plain concatenation.
        return value if value.endswith("/") else value + "/"

    @property
    def kb_index_path(self) -> Path:
        return self.kb_index_dir or self.data_dir / "kb_index"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_app_token or self.slack_signing_secret))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for the running process; tests build `Settings(...)` directly instead."""
    return Settings()
