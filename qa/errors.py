"""Errors that reach a user as a message, never as a traceback."""


class UserError(Exception):
    """Something the user can fix; the message says how."""
