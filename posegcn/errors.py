"""Errors the user fixes, and how the ``posegcn`` command reports them.

posegcn's readers, modules and checkpoint loader raise :class:`PoseGCNInputError` (or one of
its subclasses, which also keep the built-in type callers may catch: ``KeyError``,
``FileNotFoundError``, ``FloatingPointError``) when an *input* is wrong — a file, an option, a
checkpoint — and the message says what was expected, what was found and where.  The command
prints such errors as one line, ``posegcn: error: <message>``, and exits with status 2 (as
argparse does for a bad option); any other exception is a bug and keeps its traceback.
``POSEGCN_TRACEBACK=1`` shows the traceback of every error.
"""

from __future__ import annotations

import collections
import functools
import os
import sys
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "PoseGCNInputError",
    "InputFileNotFoundError",
    "InputKeyError",
    "NonFiniteLossError",
    "TRACEBACK_ENV",
    "input_error_message",
    "reports_input_errors",
]

#: Set to ``1`` to see the full traceback of errors the command would print as one line.
TRACEBACK_ENV = "POSEGCN_TRACEBACK"
#: Exit status of the command for an input error (argparse's status for a bad option).
EXIT_INPUT_ERROR = 2


#: Messages of the latest input errors of this process: jsonargparse re-raises an error of a
#: class's ``__init__`` as a new ``ValueError`` that quotes its message but does not chain it.
#: (Messages, not the errors: their tracebacks would keep large arrays alive.)
_RECENT: collections.deque[str] = collections.deque(maxlen=8)


class PoseGCNInputError(ValueError):
    """An input the user can fix (file, option, checkpoint); the message names what and where."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        _RECENT.append(BaseException.__str__(self))


class InputFileNotFoundError(PoseGCNInputError, FileNotFoundError):
    """A file or folder named by the user does not exist."""


class InputKeyError(PoseGCNInputError, KeyError):
    """A name the input lacks: a file key, a subject, an action, an entry."""

    # KeyError.__str__ would print the message quoted, as the repr of a dictionary key.
    __str__ = PoseGCNInputError.__str__


class NonFiniteLossError(PoseGCNInputError, FloatingPointError):
    """The training loss became NaN/inf: the learning rate or the data, not the code, is to blame."""


#: Argument errors of PyTorch and Lightning recognised by their message, with the posegcn option
#: to look at.  torch.optim checks its arguments only when the optimiser is built, inside the
#: Trainer, so the message does not say which option was wrong.
_THIRD_PARTY_ARGUMENT_ERRORS = {
    "Invalid learning rate": "--model.optimizer.init_args.lr",
    "Invalid weight_decay value": "--model.optimizer.init_args.weight_decay",
    "Invalid epsilon value": None,
    "Invalid beta parameter": None,
    "Invalid momentum value": None,
}


def _is_lightning_misconfiguration(err: BaseException) -> bool:
    # Lightning's own type for an invalid Trainer argument (devices, precision, strategy, ...).
    return any(cls.__name__ == "MisconfigurationException" for cls in type(err).__mro__)


def input_error_message(err: BaseException) -> str | None:
    """The one-line message for an error the user can fix, ``None`` for anything else (a bug).

    The error itself and the errors it was raised from (``__cause__``/``__context__``, as
    Lightning re-raises) are looked at, and an error whose text quotes a recent input error
    (jsonargparse wraps the errors of ``__init__`` so) stands for that input error.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        message = _own_message(current)
        if message is not None:
            return " ".join(message.split())  # one line, whatever the message's own line breaks
        current = current.__cause__ or current.__context__
    text = str(err)
    for recent in reversed(_RECENT):
        if recent and recent in text:
            return " ".join(recent.split())
    return None


def _own_message(err: BaseException) -> str | None:
    if isinstance(err, PoseGCNInputError):
        return str(err)
    if _is_lightning_misconfiguration(err):
        return f"{err} (Lightning's check of the Trainer options)"
    if type(err) is ValueError:
        text = str(err)
        for prefix, option in _THIRD_PARTY_ARGUMENT_ERRORS.items():
            if text.startswith(prefix):
                where = f"; check {option}" if option else ""
                return f"{text} (torch.optim's check of the optimiser arguments{where})"
    return None


def traceback_requested() -> bool:
    """Whether ``POSEGCN_TRACEBACK`` asks for full tracebacks."""
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() not in ("", "0", "false", "no")


F = TypeVar("F", bound=Callable)


def reports_input_errors(prog: str) -> Callable[[F], F]:
    """Decorate a command's ``main``: input errors become ``<prog>: error: <message>`` and exit status 2.

    Every other exception (a bug) propagates with its traceback, and so does every error when
    ``POSEGCN_TRACEBACK=1``.  ``SystemExit`` (argparse/jsonargparse usage errors) passes through.
    """

    def decorate(main: F) -> F:
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except Exception as err:
                message = input_error_message(err)
                if message is None or traceback_requested():
                    raise
                print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
                raise SystemExit(EXIT_INPUT_ERROR) from None

        return wrapper  # type: ignore[return-value]

    return decorate
