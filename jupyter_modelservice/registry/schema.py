"""Tables of the registry and the migrations between schema versions.

One row of ``model_metadata`` per model version; every status change is an
append-only row of ``model_events``; ``schema_info`` records the schema version.
``artifact_state`` is NULL (no file), ``'pending'`` (a save started, the file
may not exist yet), ``'ready'`` or ``'removed'`` (the file of an archived
version was deleted by ``modelservice gc``; hash and size are kept).
``trust`` is NULL for a version saved through this registry (its hash was
recorded when the file was written), ``'unverified'`` for one whose record
came from a sidecar or an archive (``rebuild-index``, ``verify --repair``,
``import``), which is refused on load until a person confirms it, and
``'verified'`` once confirmed (or signed with the team's key).

``model_blobs`` holds the bytes of the versions saved with
``models_directory="db://"`` (the database store,
`jupyter_modelservice.artifacts.database_store`): one row per version, the
store-relative ``path`` it stands for, its size and the bytes themselves
(``bytea`` on PostgreSQL, stored uncompressed; ``BLOB`` on SQLite). Its key
references the version's row with ``ON DELETE CASCADE``: deleting a version
frees its bytes in the same transaction, and bytes never outlive their row.

``evaluations`` records every evaluation of a version: ``kind`` ``'test'`` (an
``evaluate_model`` / ``compare_models`` on test data) or ``'cv'`` (a recorded
cross-validation), the ``data_fingerprint`` of the data it used, ``n_samples``,
the ``metrics``, ``details`` (classes; for CV the splitter, fold sizes and
per-fold scores), the ``predictions_sha256`` digest and, when small enough,
the ``predictions`` themselves (a compressed ``.npz``, see
`jupyter_modelservice.evaluation.records`), so that evaluating the version
on the same data again reuses them. Rows go with their version (``ON DELETE CASCADE``).
``evaluation_resamples`` keeps, per evaluation, the paired-bootstrap values of
one metric (``n_bootstrap`` float64, for one seed and resampling ``scheme``),
so that comparing the same models on the same data again does not resample;
rows go with their evaluation.

Schema versions: 1, the first; 2 adds ``model_metadata.trust``; 3 adds ``model_blobs``;
4 adds ``evaluations`` and ``evaluation_resamples``; 5 ``model_metadata.probe``; 6
``model_metadata.file_blake3``; 7 the indexes that let a sorted page of a large registry read
only its rows (`SORT_INDEXES`); 8 ``model_metadata.file_chunks``; 9 the indexes of a page of
one status sorted by a score (`STATUS_SORT_INDEXES`); 10 ``model_ids``, one row per model id, and
the status-and-date index extended with the key and the class (a page of one status tests a
search or ``latest_only`` in the index).

``model_ids`` holds each id that has versions, its highest version and how many
versions it has. Triggers on ``model_metadata`` keep it (`MODEL_IDS_TRIGGERS`),
whichever statement inserts or deletes a version, this package's or another
client's, concurrent ones included; a version never changes its id or number
(an ``UPDATE`` of those, or a ``TRUNCATE``, made by hand is not followed). It
lets a search test ten thousand ids instead of a million versions, and
``latest_only`` look a version up instead of looking for a newer one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ..exceptions import RegistryError

__all__ = ["METADATA", "MIGRATIONS", "SCHEMA_VERSION", "SORT_INDEXES", "STATUS_SORT_INDEXES", "Migrations", "evaluation_resamples", "evaluations",
           "events", "model_blobs", "model_metadata", "model_ids", "schema_info"]

SCHEMA_VERSION = 10

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
    sa.Column("artifact_state", sa.String(10)),  # NULL (no file), 'pending', 'ready', 'removed'
    sa.Column("data_fingerprint", sa.String(80)),
    sa.Column("environment", _Json),
    sa.Column("source", _Json),
    sa.Column("training_config", _Json),
    sa.Column("parent", sa.String(140)),
    sa.Column("tags", _Json),
    sa.Column("fit_seconds", sa.Float),
    sa.Column("trust", sa.String(12)),  # NULL (saved here), 'unverified', 'verified'
    sa.Column("probe", _Json),  # the behaviour probe (probe.py): input rows, and at save the predictions
    # BLAKE3 of the file, checked on load (several times faster than sha256, the digest shown and exported)
    sa.Column("file_blake3", sa.String(64)),
    # its chunk digests (artifacts.digests.ChunkDigests), which let a load check the file as it reads it
    sa.Column("file_chunks", sa.Text),
    #: schema version 10 (it replaces version 1's ``ix_model_metadata_status_date``): one status's
    #: page, newest first, tests a search or ``latest_only`` in the index alone
    sa.Index("ix_model_metadata_status_date_search", "status", "training_date", "model_id", "version",
             "model_class"),
)
# Ids equal but for letter case would share a folder on Windows and macOS; this index
# makes the check for them a lookup.
sa.Index("ix_model_metadata_model_id_lower", sa.func.lower(model_metadata.c.model_id))
#: Schema version 7 (it replaces version 1's ``ix_model_metadata_training_date``): a page sorted
#: by a column of the browser's sort menu reads its rows in index order and stops after one page.
#: A status or a class is tied across whole groups, so those carry the order's tie-breakers (id ↑,
#: version ↓). Each holds the key (id, version) and the class: a page's keys are found in the
#: index alone, a search and ``latest_only`` tested there, and only the page's rows are read
#: (`queries.rows_query`).
SORT_INDEXES = (
    sa.Index("ix_model_metadata_date_search", model_metadata.c.training_date, model_metadata.c.model_id,
             model_metadata.c.version, model_metadata.c.model_class),
    sa.Index("ix_model_metadata_validation_search", model_metadata.c.validation_score,
             model_metadata.c.model_id, model_metadata.c.version, model_metadata.c.model_class),
    sa.Index("ix_model_metadata_train_search", model_metadata.c.train_score, model_metadata.c.model_id,
             model_metadata.c.version, model_metadata.c.model_class),
    sa.Index("ix_model_metadata_status_id", model_metadata.c.status, model_metadata.c.model_id,
             model_metadata.c.version.desc(), model_metadata.c.model_class),
    sa.Index("ix_model_metadata_class_id", model_metadata.c.model_class, model_metadata.c.model_id,
             model_metadata.c.version.desc()),
)
#: Schema version 9: a page of one status sorted by a score (the browser's status filter with its
#: score sorts) reads the status's rows in score order from these and stops after one page; the
#: score indexes above would test every row's status in the table, the status index sort them all.
STATUS_SORT_INDEXES = (
    sa.Index("ix_model_metadata_status_validation", model_metadata.c.status, model_metadata.c.validation_score,
             model_metadata.c.model_id, model_metadata.c.version, model_metadata.c.model_class),
    sa.Index("ix_model_metadata_status_train", model_metadata.c.status, model_metadata.c.train_score,
             model_metadata.c.model_id, model_metadata.c.version, model_metadata.c.model_class),
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

def _model_blobs_table(metadata: sa.MetaData) -> sa.Table:
    """``model_blobs`` as schema version 3 defines it (the 2 → 3 step creates exactly this).

    Change it through a new migration step, never here: registries upgraded
    by the step and registries created at the newest version must agree.
    """
    table = sa.Table(
        "model_blobs",
        metadata,
        sa.Column("model_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("path", sa.String(1024), nullable=False),  # the store-relative path: rf/v1.joblib
        sa.Column("nbytes", sa.BigInteger, nullable=False),
        sa.Column("stored_at", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.ForeignKeyConstraint(["model_id", "version"], ["model_metadata.model_id", "model_metadata.version"],
                                ondelete="CASCADE", name="fk_model_blobs_version"),
    )
    # Model files are compressed by their writer if at all: PostgreSQL's own compression of large
    # values (pglz) would cost time on every save and load for little gain.
    sa.event.listen(table, "after_create",
                    sa.DDL("ALTER TABLE model_blobs ALTER COLUMN data SET STORAGE EXTERNAL")
                    .execute_if(dialect="postgresql"))
    return table


model_blobs = _model_blobs_table(METADATA)


def _evaluations_table(metadata: sa.MetaData) -> sa.Table:
    """``evaluations`` as schema version 4 defines it (the 3 → 4 step creates exactly this).

    Change it through a new migration step, never here: registries upgraded
    by the step and registries created at the newest version must agree.
    """
    return sa.Table(
        "evaluations",
        metadata,
        sa.Column("evaluation_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),  # 'test' or 'cv'
        sa.Column("task_type", sa.String(20)),
        sa.Column("data_fingerprint", sa.String(80), nullable=False),
        sa.Column("n_samples", sa.Integer),
        sa.Column("metrics", _Json),
        sa.Column("details", _Json),
        sa.Column("predictions_sha256", sa.String(80)),
        sa.Column("predictions", sa.LargeBinary),  # compressed .npz, NULL when over the size bound
        sa.Column("evaluated_at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.ForeignKeyConstraint(["model_id", "version"], ["model_metadata.model_id", "model_metadata.version"],
                                ondelete="CASCADE", name="fk_evaluations_version"),
        sa.Index("ix_evaluations_version_data", "model_id", "version", "data_fingerprint"),
    )


def _resamples_table(metadata: sa.MetaData) -> sa.Table:
    """``evaluation_resamples`` as schema version 4 defines it (see `_evaluations_table`)."""
    return sa.Table(
        "evaluation_resamples",
        metadata,
        sa.Column("evaluation_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("metric", sa.String(30), primary_key=True),
        sa.Column("n_bootstrap", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("random_state", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("scheme", sa.Integer, primary_key=True, autoincrement=False),  # significance.RESAMPLING
        sa.Column("resampled", sa.LargeBinary, nullable=False),  # n_bootstrap little-endian float64
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.evaluation_id"], ondelete="CASCADE",
                                name="fk_evaluation_resamples_evaluation"),
    )


evaluations = _evaluations_table(METADATA)
evaluation_resamples = _resamples_table(METADATA)


def _model_ids_table(metadata: sa.MetaData) -> sa.Table:
    """``model_ids`` as schema version 10 defines it (see `_evaluations_table`): one row per model id
    with versions, kept by the triggers of `MODEL_IDS_TRIGGERS`."""
    return sa.Table(
        "model_ids",
        metadata,
        sa.Column("model_id", sa.String(128), primary_key=True),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("versions", sa.Integer, nullable=False),
    )


model_ids = _model_ids_table(METADATA)

#: The triggers that keep ``model_ids`` (schema version 10), per dialect: a version inserted counts
#: for its id (a new id gets its row); a version deleted is taken away (the id's highest version
#: read again), and an id left without versions loses its row.
MODEL_IDS_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        """CREATE TRIGGER tr_model_ids_version_added AFTER INSERT ON model_metadata
BEGIN
    INSERT INTO model_ids (model_id, latest_version, versions) VALUES (NEW.model_id, NEW.version, 1)
    ON CONFLICT (model_id) DO UPDATE
        SET latest_version = max(latest_version, excluded.latest_version), versions = versions + 1;
END""",
        """CREATE TRIGGER tr_model_ids_version_deleted AFTER DELETE ON model_metadata
BEGIN
    UPDATE model_ids SET versions = versions - 1,
        latest_version = coalesce((SELECT max(version) FROM model_metadata WHERE model_id = OLD.model_id),
                                  latest_version)
        WHERE model_id = OLD.model_id;
    DELETE FROM model_ids WHERE model_id = OLD.model_id AND versions <= 0;
END""",
    ),
    "postgresql": (
        # the tables named as where the function was made, whatever search_path a writer has
        """CREATE OR REPLACE FUNCTION model_ids_track_versions() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO model_ids AS m (model_id, latest_version, versions) VALUES (NEW.model_id, NEW.version, 1)
        ON CONFLICT (model_id) DO UPDATE
            SET latest_version = GREATEST(m.latest_version, EXCLUDED.latest_version), versions = m.versions + 1;
    ELSE
        -- the id's row locked first: the statement after it reads the versions as they are once a
        -- writer of the same id that held the row has committed (its own snapshot would miss them)
        PERFORM 1 FROM model_ids WHERE model_id = OLD.model_id FOR UPDATE;
        UPDATE model_ids SET versions = versions - 1,
            latest_version = coalesce((SELECT max(version) FROM model_metadata WHERE model_id = OLD.model_id),
                                      latest_version)
            WHERE model_id = OLD.model_id;
        DELETE FROM model_ids WHERE model_id = OLD.model_id AND versions <= 0;
    END IF;
    RETURN NULL;
END $$""",
        """CREATE TRIGGER tr_model_ids_versions AFTER INSERT OR DELETE ON model_metadata
FOR EACH ROW EXECUTE FUNCTION model_ids_track_versions()""",
    ),
}


def _create_model_ids_triggers(target: sa.MetaData | sa.Connection, connection: sa.Connection, **kw: object) -> None:
    for statement in MODEL_IDS_TRIGGERS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


# after every table: the triggers name both ``model_metadata`` and ``model_ids``
sa.event.listen(METADATA, "after_create", _create_model_ids_triggers)

Migration = Callable[[sa.Connection], None]


class Migrations(dict[int, Migration]):
    """``MIGRATIONS[n]`` upgrades a schema of version ``n`` to ``n + 1``.

    `Registry` runs every needed step, then records the new version, inside
    the one transaction that opened the registry: a failing step rolls back
    all of them and leaves the file as it was. Looking a step up returns it
    wrapped so that a failure names both versions (a `RegistryError`), and
    a missing step is a `RegistryError` too, never a bare ``KeyError``.
    Keep old steps forever: registries of any age must open.
    """

    def __missing__(self, step: int) -> Migration:
        raise RegistryError(
            f"This version of jupyter_modelservice cannot upgrade a registry from schema version "
            f"{step} to {step + 1} (it knows no such step; it understands versions 1 to "
            f"{SCHEMA_VERSION}). The registry was left untouched."
        )

    def __getitem__(self, step: int) -> Migration:
        func = super().__getitem__(step)

        def run(conn: sa.Connection) -> None:
            try:
                func(conn)
            except RegistryError:
                raise
            except Exception as err:
                raise RegistryError(
                    f"Upgrading the registry from schema version {step} to {step + 1} failed "
                    f"({type(err).__name__}: {err}); the upgrade was rolled back and the registry "
                    "left as it was."
                ) from err

        run.__name__ = getattr(func, "__name__", "migration")
        run.__doc__ = func.__doc__
        return run


#: The schema upgrades, by the version they start from.
MIGRATIONS: Migrations = Migrations()


def _add_trust(conn: sa.Connection) -> None:
    """1 → 2: ``model_metadata.trust``.

    Versions saved through the registry stay NULL (trusted); those an earlier
    version restored from a sidecar (``rebuild-index``) or imported from an
    archive, on the word of those files, become ``'unverified'``.
    """
    conn.execute(sa.text("ALTER TABLE model_metadata ADD COLUMN trust VARCHAR(12)"))
    found = conn.execute(
        sa.select(events.c.model_id, events.c.version, events.c.event, events.c.details)
        .where(events.c.event.in_(["restored", "imported"]))
    )
    from_files = {(r.model_id, r.version) for r in found
                  if isinstance(r.details, dict) and (r.details.get("from") == "sidecar" or "archive" in r.details)}
    for model_id, version in sorted(from_files):
        conn.execute(model_metadata.update()
                     .where(model_metadata.c.model_id == model_id, model_metadata.c.version == version)
                     .values(trust="unverified"))


MIGRATIONS[1] = _add_trust


def _add_model_blobs(conn: sa.Connection) -> None:
    """2 → 3: ``model_blobs``, the bytes of versions kept in the database (``models_directory="db://"``)."""
    frozen = sa.MetaData()
    # the referenced table, declared only so that the foreign key can be written (not created)
    sa.Table("model_metadata", frozen, sa.Column("model_id", sa.String(128), primary_key=True),
             sa.Column("version", sa.Integer, primary_key=True, autoincrement=False))
    _model_blobs_table(frozen).create(conn)


MIGRATIONS[2] = _add_model_blobs


def _add_evaluations(conn: sa.Connection) -> None:
    """3 → 4: ``evaluations``, one row per evaluation of a version (test data or cross-validation),
    and ``evaluation_resamples``, the paired-bootstrap values kept with them."""
    frozen = sa.MetaData()
    # the referenced table, declared only so that the foreign key can be written (not created)
    sa.Table("model_metadata", frozen, sa.Column("model_id", sa.String(128), primary_key=True),
             sa.Column("version", sa.Integer, primary_key=True, autoincrement=False))
    _evaluations_table(frozen).create(conn)
    _resamples_table(frozen).create(conn)


MIGRATIONS[3] = _add_evaluations


def _add_probe(conn: sa.Connection) -> None:
    """4 → 5: ``model_metadata.probe``, the behaviour probe checked on loads under other library
    versions (earlier versions have none: their loads warn on any version difference, as before)."""
    conn.execute(sa.text("ALTER TABLE model_metadata ADD COLUMN probe JSON"))


MIGRATIONS[4] = _add_probe


def _add_file_blake3(conn: sa.Connection) -> None:
    """5 → 6: ``model_metadata.file_blake3``, the digest a load checks (files saved before have
    none: their loads check the sha256, as before)."""
    conn.execute(sa.text("ALTER TABLE model_metadata ADD COLUMN file_blake3 VARCHAR(64)"))


MIGRATIONS[5] = _add_file_blake3


def _add_sort_indexes(conn: sa.Connection) -> None:
    """6 → 7: the indexes of `SORT_INDEXES` (an index already there is kept), in place of
    ``ix_model_metadata_training_date``, which the first of them extends."""
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_model_metadata_training_date"))
    for index in SORT_INDEXES:
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    _refresh_statistics(conn)


def _refresh_statistics(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite" and sa.inspect(conn).has_table("sqlite_stat1"):
        # statistics of the old indexes and none of the new would mislead SQLite's planner
        conn.execute(sa.text("ANALYZE model_metadata"))


MIGRATIONS[6] = _add_sort_indexes


def _add_file_chunks(conn: sa.Connection) -> None:
    """7 → 8: ``model_metadata.file_chunks``, the chunk digests a load checks while it reads (files
    saved before have none: their loads read the whole file and check its BLAKE3 or sha256)."""
    conn.execute(sa.text("ALTER TABLE model_metadata ADD COLUMN file_chunks TEXT"))


MIGRATIONS[7] = _add_file_chunks


def _add_status_sort_indexes(conn: sa.Connection) -> None:
    """8 → 9: the indexes of `STATUS_SORT_INDEXES` (an index already there is kept)."""
    for index in STATUS_SORT_INDEXES:
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    _refresh_statistics(conn)


MIGRATIONS[8] = _add_status_sort_indexes


def _add_model_ids(conn: sa.Connection) -> None:
    """9 → 10: ``model_ids`` and its triggers, filled from the versions there; the status-and-date index
    extended with the key and the class (an index already there is kept)."""
    table = _model_ids_table(sa.MetaData())
    table.create(conn)
    conn.execute(table.insert().from_select(
        ["model_id", "latest_version", "versions"],
        sa.select(model_metadata.c.model_id, sa.func.max(model_metadata.c.version), sa.func.count())
        .group_by(model_metadata.c.model_id)))
    _create_model_ids_triggers(conn, conn)
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_model_metadata_status_date"))
    status_date = next(i for i in model_metadata.indexes if i.name == "ix_model_metadata_status_date_search")
    conn.execute(sa.schema.CreateIndex(status_date, if_not_exists=True))
    _refresh_statistics(conn)
    if conn.dialect.name == "postgresql" or sa.inspect(conn).has_table("sqlite_stat1"):
        # its size known at once (autovacuum would analyse it later): PostgreSQL then finds a page of
        # latest versions by reading the score index in order, not by looking every id up
        conn.exec_driver_sql("ANALYZE model_ids")


MIGRATIONS[9] = _add_model_ids
