"""Errors and warnings raised by jupyter_modelservice.

Every error derives from :class:`ModelServiceError`; where a built-in exception
fits, the error inherits it too, so ``except KeyError`` / ``except ValueError``
keep working::

    ModelServiceError(Exception)
    ├── InvalidModelIdError(ValueError)      bad model id, version or reference
    ├── ModelNotFoundError(KeyError)         no such model id / version
    ├── InvalidInputError(ValueError)        bad X, y, estimator, parameter or option
    │   └── QueryError                       a where expression outside the query language
    ├── IncompatibleModelsError(ValueError)  models of different task types, data or CV folds compared
    ├── PromotionRefusedError(ValueError)    a challenger not significantly better than production
    ├── NoModelError(RuntimeError)           no current model / model not in memory
    ├── ArtifactError(OSError)               a model file is missing or unreadable
    │   ├── PickleNotAllowedError            a joblib/pickle file, and the service refuses pickle
    │   ├── StoreError                       the model store failed (unreachable, access denied, no bucket)
    │   ├── ModelTooLargeError               a model over the size limit of the database store ("db://")
    │   └── ArtifactIntegrityError           the file's bytes differ from the registered hash or format
    │       ├── UntrustedTypesError          a skops file holds types not on the trusted list
    │       └── UnverifiedModelError         a version restored or imported, not yet confirmed
    └── RegistryError(RuntimeError)          the registry database cannot be used
        └── SchemaVersionError               the registry was written by a newer version

    ModelServiceWarning(UserWarning)
    ├── MissingArtifactWarning               a row points at a file that is gone
    ├── EnvironmentMismatchWarning           loading a model saved with other library versions
    ├── IncompleteDeleteWarning              a deleted version's files could not all be removed
    ├── NoImportanceWarning                  the estimator exposes no importances
    └── UnsavedModelsDroppedWarning          old unsaved models let go of to bound memory
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "EnvironmentMismatchWarning",
    "IncompleteDeleteWarning",
    "IncompatibleModelsError",
    "InvalidInputError",
    "InvalidModelIdError",
    "MissingArtifactWarning",
    "ModelNotFoundError",
    "ModelServiceError",
    "ModelTooLargeError",
    "ModelServiceWarning",
    "PromotionRefusedError",
    "QueryError",
    "NoImportanceWarning",
    "NoModelError",
    "PickleNotAllowedError",
    "RegistryError",
    "SchemaVersionError",
    "StoreError",
    "UnsavedModelsDroppedWarning",
    "UntrustedTypesError",
    "UnverifiedModelError",
]


class ModelServiceError(Exception):
    """Base class of every error raised by jupyter_modelservice."""


class InvalidModelIdError(ModelServiceError, ValueError):
    """A model id, version or ``"id:version"`` reference is not acceptable."""


class ModelNotFoundError(ModelServiceError, KeyError):
    """The registry has no such model id or version."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidInputError(ModelServiceError, ValueError):
    """Training or evaluation input (X, y, estimator, parameters) cannot be used."""


class QueryError(InvalidInputError):
    """A ``where`` expression that is not part of the registry's query language (says where)."""


class IncompatibleModelsError(ModelServiceError, ValueError):
    """Models that cannot be compared together: different task types, stored results computed on
    different data, or cross-validations on different folds. The message names the difference."""


class PromotionRefusedError(ModelServiceError, ValueError):
    """``promote(..., require_better=True)`` found the challenger not significantly better.

    ``evidence`` holds what was compared: metric, both values, p-value, test, data.
    """

    def __init__(self, message: str, evidence: dict | None = None) -> None:
        super().__init__(message)
        self.evidence = dict(evidence or {})


class NoModelError(ModelServiceError, RuntimeError):
    """No model is loaded, or the requested version is neither in memory nor saved."""


class ArtifactError(ModelServiceError, OSError):
    """A model file is missing, unreadable or of an unknown format."""


class PickleNotAllowedError(ArtifactError):
    """A joblib or pickle file, and the service was told never to read pickle (``allow_pickle=False``).

    Nothing of the file is read. Convert it where pickle is allowed with
    ``save_model(ref, save_format="skops")``.
    """


class StoreError(ArtifactError):
    """The model store failed a request: unreachable, timed out, access denied, no such bucket.

    The message names the store (without secrets) and what to check; the
    storage library's own error is chained as ``__cause__``.
    """


class ModelTooLargeError(ArtifactError):
    """A model file larger than the database store accepts (``models_directory="db://"``).

    Raised while the model is being serialized, before anything is written:
    the version keeps what it had. Keep large models in a file store (a
    shared folder or an ``s3://`` URL) or raise the limit with
    ``storage_options={"max_bytes": ...}``.
    """

    def __init__(self, message: str, nbytes: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.nbytes = nbytes
        self.limit = limit


class ArtifactIntegrityError(ArtifactError):
    """A model file's bytes differ from the hash recorded when it was saved.

    Nothing from the file is deserialized when this is raised.
    """


class UntrustedTypesError(ArtifactIntegrityError):
    """A skops file references types that are not on the trusted list."""

    def __init__(self, message: str, types: list[str] | None = None) -> None:
        super().__init__(message)
        self.types = list(types or [])


class UnverifiedModelError(ArtifactIntegrityError):
    """A version whose record came from a sidecar or an archive, not from a save in this registry.

    ``rebuild-index``, ``verify --repair`` and ``import`` restore such
    versions as *unverified*: their file matches the hash they carry, but
    nothing vouches for that hash. Nothing is deserialized until a person
    confirms the version (``modelservice trust REF`` or ``service.trust(ref)``)
    or loads it once with ``trust_unverified=True``.
    """

    def __init__(self, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.ref = ref


class RegistryError(ModelServiceError, RuntimeError):
    """The registry database cannot be opened or written."""


class SchemaVersionError(RegistryError):
    """The registry's schema is newer than this version of the package understands."""


class ModelServiceWarning(UserWarning):
    """Base class of the warnings issued by jupyter_modelservice."""


class MissingArtifactWarning(ModelServiceWarning):
    """A registry row points at a model file that does not exist."""


class EnvironmentMismatchWarning(ModelServiceWarning):
    """A model is loaded with library versions other than those it was saved with."""


class IncompleteDeleteWarning(ModelServiceWarning):
    """Deleted versions' rows are gone but some of their files could not be removed (yet)."""


class NoImportanceWarning(ModelServiceWarning):
    """The estimator exposes neither ``feature_importances_`` nor ``coef_``."""


class UnsavedModelsDroppedWarning(ModelServiceWarning):
    """A session let go of its oldest unsaved models (``max_unsaved``): they cannot be loaded any more."""
