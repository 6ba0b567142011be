"""The one exception type users see: its message is a single actionable line."""


class SemcomError(Exception):
    """A user-facing error; apps print ``str(err)`` on one line and exit non-zero."""
