"""The command-line apps, one module each (``apps/`` holds thin launchers); ``common`` holds the
options and error handling they share."""
