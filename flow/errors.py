"""The FlowError family: everything the flow runtime raises on purpose."""


class FlowError(Exception):
    """Base of flow runtime errors."""


class FlowNotFound(FlowError, KeyError):
    def __init__(self, flow_id):
        super().__init__(f"no flow with id {flow_id!r}")
        self.flow_id = flow_id

    def __str__(self):
        return self.args[0]


class UnknownFlow(FlowError):
    """A flow name that no defflow registered."""


class StoreFormatError(FlowError):
    """Store data that is truncated, malformed, oversized or of another version, or
    holds a continuation the loaded code could not have made."""


class StoreAuthenticationError(StoreFormatError):
    """An import with a store key configured, of a store without a valid MAC
    (unauthenticated, tampered with, or made with another key)."""


class CodeNotLoaded(FlowError):
    """A suspended flow whose code unit is not loaded (and cannot be replayed)."""

    def __init__(self, flow_id, flow_name, unit_hash, filename):
        super().__init__(
            f"flow {flow_id!r} ({flow_name}) needs code unit {unit_hash[:12]} from {filename}, "
            f"which is not loaded: load {filename} (and the defflow of {flow_name}) first"
        )
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.unit_hash = unit_hash
        self.filename = filename


class NondeterminismError(FlowError):
    """Replaying a flow's new code against its journal made a different request."""

    def __init__(self, flow_id, step, expected, actual):
        super().__init__(
            f"flow {flow_id!r} diverged from its journal at step {step}: "
            f"expected {expected}, got {actual}"
        )
        self.flow_id = flow_id
        self.step = step
        self.expected = expected
        self.actual = actual


class UnsaveableFlow(FlowError):
    """A flow holds a value that cannot be saved (e.g. an open port)."""


class StoreWriteError(FlowError):
    """A durable store's write or fsync failed. Unless its message says otherwise,
    nothing of that call was committed (the store, in memory and on disk, is as it
    was before it) and the call can be retried. Names the store file (.path) and
    the operating system's error (.os_error)."""

    def __init__(self, path, os_error, doing="writing a commit", message=None):
        super().__init__(
            message
            or f"{path}: {doing} failed, nothing was committed ({os_error}); the store is as it "
            f"was before, and the call can be retried"
        )
        self.path = path
        self.os_error = os_error
        self.doing = doing


class StorePathError(FlowError):
    """A store location that cannot be used safely: a file where the store's
    directory should be, or a symbolic link (or anything but a regular file)
    where one of its files should be."""
