"""The private Lightning, torchmetrics, jsonargparse and torch APIs posegcn relies on, in one place.

Each function or class below wraps one API that its library does not promise to keep
(an underscore name, a loop internal, an overridable hook that is not documented).  Its
docstring says which release it was checked against and why posegcn needs it;
``tests/test_compat.py`` checks the signatures and the behaviour, so that a new release
which changes one of them fails there, naming the wrapper, instead of somewhere deep in a
training run.  Checked against:

=============  =========
lightning      2.6.6
torchmetrics   1.9.0
jsonargparse   4.47.0
torch          2.13.0
=============  =========

Nothing else in posegcn may use these private APIs directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from torchmetrics import Metric

__all__ = [
    "CHECKED_AGAINST",
    "DeviceOnlyStatesMetric",
    "LightningCLIHooks",
    "attached_trainer",
    "batches_processed",
    "is_compiled",
    "jsonargparse_debug_mode",
    "logs_this_step",
    "save_last_checkpoint",
    "synced_states",
    "uses_distributed_sampler",
]

#: The releases these wrappers were checked against (``tests/test_compat.py`` prints them on failure).
CHECKED_AGAINST = {"lightning": "2.6.6", "torchmetrics": "1.9.0", "jsonargparse": "4.47.0", "torch": "2.13.0"}


# --------------------------------------------------------------------------- Lightning: checkpoints
def save_last_checkpoint(callback: ModelCheckpoint, trainer: pl.Trainer) -> None:
    """Write ``callback``'s ``last.ckpt`` now, unless Lightning's own rules say not to save.

    Checked against lightning 2.6.6, which has no public "save last now" call.  Uses
    ``ModelCheckpoint._should_skip_saving_checkpoint(trainer)`` (no saving under
    ``fast_dev_run``, outside fit, during the sanity check, or twice at one global step),
    ``ModelCheckpoint._monitor_candidates(trainer)`` (the values the file name template may
    use) and ``ModelCheckpoint._save_last_checkpoint(trainer, monitor_candidates)``.
    Needed by :class:`posegcn.checkpointing.PoseModelCheckpoint`, which refreshes
    ``last.ckpt`` at every epoch end even when ``every_n_train_steps`` is set.
    """
    if callback.save_last and not callback._should_skip_saving_checkpoint(trainer):
        callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))


# --------------------------------------------------------------------------- Lightning: loops, modules
def batches_processed(trainer: pl.Trainer) -> int:
    """Training batches of the current epoch the model has consumed (not merely fetched).

    Checked against lightning 2.6.6: ``trainer.fit_loop.epoch_loop.batch_progress.current.processed``,
    a loop internal (the progress trackers are not public API).  Lightning prefetches one batch
    ahead, so the data loader's own count is one too high; the data modules save this count in
    checkpoints so that a resumed run continues the same shuffled order.
    """
    return int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)


def logs_this_step(trainer: pl.Trainer | None) -> bool:
    """Whether values logged by the current training step reach the loggers.

    Checked against lightning 2.6.6: ``trainer._logger_connector.should_update_logs`` (every
    ``log_every_n_steps`` batches, and when the trainer stops).  ``self.log`` of a step in between
    is bookkeeping whose value no logger ever receives, and costs ≈0.5–4 ms per call in Lightning's
    result collection; :class:`posegcn.lit.PoseLiftingModule` logs its training terms only on the
    steps that Lightning writes, so the loss curves are the same at a fraction of the cost.
    ``True`` without a trainer or under ``fast_dev_run`` (which logs every step).
    """
    if trainer is None or trainer.fast_dev_run:
        return True
    return bool(trainer._logger_connector.should_update_logs)


def uses_distributed_sampler(trainer: pl.Trainer) -> bool:
    """Whether a distributed ``trainer`` would wrap the loaders' samplers in its padding ``DistributedSampler``.

    Checked against lightning 2.6.6: ``trainer._accelerator_connector.is_distributed`` and
    ``.use_distributed_sampler`` (the connector is private).  posegcn's data modules shard by
    themselves (unpadded evaluation shards) and refuse such a trainer.
    """
    connector = getattr(trainer, "_accelerator_connector", None)
    distributed = getattr(connector, "is_distributed", trainer.world_size > 1)
    return bool(distributed and getattr(connector, "use_distributed_sampler", False))


def attached_trainer(module: pl.LightningModule) -> pl.Trainer | None:
    """The trainer ``module`` is attached to, or ``None`` — without the error ``module.trainer`` raises.

    Checked against lightning 2.6.6, where the public ``LightningModule.trainer`` property raises
    ``RuntimeError`` when no trainer is attached, and the attribute behind it is ``_trainer``.
    Needed where a module is used both inside and outside a trainer (set-up checks, error
    messages naming the checkpoint being loaded).
    """
    return module._trainer


def is_compiled(module: torch.nn.Module) -> bool:
    """Whether ``module.compile()`` (in-place ``torch.compile``) was already called on ``module``.

    Checked against torch 2.13: ``nn.Module.compile`` stores the compiled call in
    ``_compiled_call_impl`` (``None`` until then) and there is no public flag.  Needed so that a
    module set up twice (fit, then test) is not compiled twice.
    """
    return getattr(module, "_compiled_call_impl", None) is not None


# --------------------------------------------------------------------------- torchmetrics
class DeviceOnlyStatesMetric(Metric):
    """A :class:`torchmetrics.Metric` whose states named in :attr:`device_only_states` keep their dtype.

    ``.to(device)`` moves them; ``.half()``, ``.double()`` and ``.to(dtype)`` (Lightning's
    ``"16-true"`` precision casts the whole module) leave their dtype alone, so sums over
    half a million poses stay float64.

    Checked against torchmetrics 1.9.0: overrides ``Metric._apply(fn, exclude_state)`` (the
    hook ``nn.Module.to`` calls; torchmetrics added ``exclude_state`` for subclasses like this
    one) and updates the registered defaults ``Metric._defaults[name]`` that ``reset()`` copies.
    """

    #: Names of the states (registered with ``add_state``) whose dtype never changes.
    device_only_states: tuple[str, ...] = ()

    def _apply(self, fn: Callable, exclude_state: Sequence[str] = ()) -> torch.nn.Module:
        this = super()._apply(fn, exclude_state=(*exclude_state, *self.device_only_states))
        for name in self.device_only_states:
            if name in exclude_state:
                continue
            this._defaults[name] = this._defaults[name].to(this.device)
            setattr(this, name, getattr(this, name).to(this.device))
        return this


@contextlib.contextmanager
def synced_states(metric: Metric) -> Iterator[None]:
    """Inside the block, ``metric``'s states hold the sum over all processes, as in ``compute()``.

    Checked against torchmetrics 1.9.0: ``Metric.sync_context`` is public, but the arguments that
    make it behave like ``compute()`` (sync only with ``sync_on_compute``, restore the local
    states afterwards unless inside ``forward``) are the private flags ``Metric._to_sync`` and
    ``Metric._should_unsync``.  Needed by ``compute_actionwise``, a second result computed
    from the same states.  Under DDP this is a collective call: every rank must enter it.
    """
    with metric.sync_context(
        dist_sync_fn=metric.dist_sync_fn,
        should_sync=metric._to_sync,
        should_unsync=metric._should_unsync,
    ):
        yield


# --------------------------------------------------------------------------- jsonargparse / LightningCLI
def jsonargparse_debug_mode() -> bool:
    """Whether ``JSONARGPARSE_DEBUG=true`` asks jsonargparse for its full error output.

    Checked against jsonargparse 4.47.0: ``jsonargparse._common.debug_mode_active`` (a private
    module; the accepted values are ``true``/``false``/unset, anything else raises
    ``ValueError``).  Needed by posegcn's parser, which shortens argument errors to one line
    unless jsonargparse's debug mode is on.
    """
    from jsonargparse._common import debug_mode_active

    return debug_mode_active()


class LightningCLIHooks(LightningCLI):
    """:class:`~lightning.pytorch.cli.LightningCLI` with its private hooks renamed as public ones.

    Checked against lightning 2.6.6.  Subclasses override the public names:

    * :meth:`configure_subcommand_parser` — called on each subcommand's parser after Lightning
      built it (``LightningCLI._prepare_subcommand_parser(klass, subcommand, **kwargs)``), to
      set subcommand defaults and add subcommand-only callbacks.
    * :meth:`parse_ckpt_path` — replaces ``LightningCLI._parse_ckpt_path()``, which
      ``__init__`` calls after parsing to merge ``--ckpt_path``'s hyper-parameters into
      ``self.config``.

    :meth:`config_value` reads the instantiated configuration (``self.config_init``) of the
    running subcommand through ``LightningCLI._get(config, key, default)``.
    """

    def _prepare_subcommand_parser(
        self, klass: type, subcommand: str, **kwargs: Any
    ) -> LightningArgumentParser:
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        self.configure_subcommand_parser(parser, subcommand)
        return parser

    def configure_subcommand_parser(self, parser: LightningArgumentParser, subcommand: str) -> None:
        """Adjust the parser of ``subcommand`` (``fit``, ``validate``, ``test``, ``predict``); no-op here."""

    def _parse_ckpt_path(self) -> None:
        self.parse_ckpt_path()

    def parse_ckpt_path(self) -> None:
        """Merge the hyper-parameters of ``--ckpt_path`` into ``self.config``: Lightning's own merge here."""
        super()._parse_ckpt_path()

    def config_value(self, key: str, default: Any = None) -> Any:
        """The instantiated value of ``key`` for the running subcommand (after ``instantiate_classes``)."""
        return self._get(self.config_init, key, default=default)
