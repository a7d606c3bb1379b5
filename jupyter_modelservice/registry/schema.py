"""Tables of the registry and the migrations between schema versions.

One row of ``model_metadata`` per model version; every status change is an
append-only row of ``model_events``; ``schema_info`` records the schema version.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

__all__ = ["METADATA", "MIGRATIONS", "SCHEMA_VERSION", "events", "model_metadata", "schema_info"]

SCHEMA_VERSION = 1

METADATA = sa.MetaData()

#: JSON stored as text on SQLite and as ``json`` on PostgreSQL; None stays SQL NULL.
_Json = sa.JSON(none_as_null=True)

model_metadata = sa.Table(
    "model_metadata",
    METADATA,
    sa.Column("model_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("model_class", sa.String(200), nullable=False),
    sa.Column("model_module", sa.String(300)),
    sa.Column("model_params", _Json),
    sa.Column("task_type", sa.String(20)),
    sa.Column("training_samples", sa.Integer),
    sa.Column("validation_samples", sa.Integer),
    sa.Column("feature_count", sa.Integer),
    sa.Column("feature_names", _Json),
    sa.Column("train_score", sa.Float),
    sa.Column("validation_score", sa.Float),
    sa.Column("scoring", sa.String(100)),
    sa.Column("metrics", _Json),
    sa.Column("cv_scores", _Json),
    sa.Column("training_date", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("file_path", sa.String(1024)),
    sa.Column("file_format", sa.String(10)),
    sa.Column("file_sha256", sa.String(64)),
    sa.Column("file_bytes", sa.BigInteger),
    sa.Column("artifact_state", sa.String(10)),  # NULL (no file), 'pending', 'ready'
    sa.Column("data_fingerprint", sa.String(80)),
    sa.Column("environment", _Json),
    sa.Column("source", _Json),
    sa.Column("training_config", _Json),
    sa.Column("parent", sa.String(140)),
    sa.Column("tags", _Json),
    sa.Column("fit_seconds", sa.Float),
    sa.Index("ix_model_metadata_status_date", "status", "training_date"),
    sa.Index("ix_model_metadata_training_date", "training_date"),
)

events = sa.Table(
    "model_events",
    METADATA,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event", sa.String(30), nullable=False),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20)),
    sa.Column("actor", sa.String(200)),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("details", _Json),
    sa.Index("ix_model_events_model", "model_id", "version"),
)

schema_info = sa.Table(
    "schema_info",
    METADATA,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

#: ``MIGRATIONS[n]`` upgrades a schema of version ``n`` to ``n + 1`` inside the
#: caller's transaction. Keep old steps forever: registries of any age must open.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {}
