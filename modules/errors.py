"""Errors a user can fix: `python -m lit` prints them as one message instead of a traceback."""


class UserInputError(ValueError):
    """Bad input (data, model source, settings); the message says what and where."""


class NonFiniteLossError(UserInputError):
    """The training loss (or a weight about to be saved) became NaN or infinite; the run stops there."""
