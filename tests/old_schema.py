"""Registries as older schema versions wrote them, for the tests of the upgrades.

`downgrade` takes away what each later migration added, newest first, and sets
the recorded version; a statement that differs by dialect is written
``{"sqlite": ..., "postgresql": ...}``. A new migration adds its undo to `UNDO`
(and nowhere else: every upgrade test goes through here).
"""

from __future__ import annotations

from typing import Any

from jupyter_modelservice.registry.schema import SCHEMA_VERSION, SORT_INDEXES, STATUS_SORT_INDEXES

#: What each schema version added, as the statements that take it away again.
UNDO: dict[int, list[str | dict[str, str]]] = {
    2: ["ALTER TABLE model_metadata DROP COLUMN trust"],
    3: ["DROP TABLE model_blobs"],
    4: ["DROP TABLE evaluation_resamples", "DROP TABLE evaluations"],
    5: ["ALTER TABLE model_metadata DROP COLUMN probe"],
    6: ["ALTER TABLE model_metadata DROP COLUMN file_blake3"],
    7: [*(f"DROP INDEX {index.name}" for index in SORT_INDEXES),
        "CREATE INDEX ix_model_metadata_training_date ON model_metadata (training_date)"],
    8: ["ALTER TABLE model_metadata DROP COLUMN file_chunks"],
    9: [f"DROP INDEX {index.name}" for index in STATUS_SORT_INDEXES],
    10: [{"sqlite": "DROP TRIGGER tr_model_ids_version_added",
          "postgresql": "DROP TRIGGER tr_model_ids_versions ON model_metadata"},
         {"sqlite": "DROP TRIGGER tr_model_ids_version_deleted",
          "postgresql": "DROP FUNCTION model_ids_track_versions()"},
         "DROP TABLE model_ids", "DROP INDEX ix_model_metadata_status_date_search",
         "CREATE INDEX ix_model_metadata_status_date ON model_metadata (status, training_date)"],
}
assert sorted(UNDO) == list(range(2, SCHEMA_VERSION + 1)), "a new schema version needs its undo in UNDO"


def downgrade(connection: Any, version: int) -> None:
    """Turn the registry behind ``connection`` (sqlite3, or SQLAlchemy in a transaction) into what
    schema ``version`` wrote."""
    run = getattr(connection, "exec_driver_sql", None) or connection.execute
    dialect = connection.dialect.name if hasattr(connection, "dialect") else "sqlite"
    for step in range(SCHEMA_VERSION, version, -1):
        for statement in UNDO[step]:
            run(statement[dialect] if isinstance(statement, dict) else statement)
    run(f"UPDATE schema_info SET value = '{int(version)}' WHERE key = 'schema_version'")
