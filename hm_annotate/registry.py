"""One name -> factory registry type for every kind of plug-in: segmenters, trackers, detectors,
dataset adapters and mask-tree formats.

Built-ins are named by ``"module:attribute"`` strings (or ``"module"`` for a plug-in that is a
module, as mask-tree formats are) and imported only when used, so listing or choosing
``grabcut`` never imports torch. Third-party packages add their own by declaring an entry point
in the registry's group (e.g. ``hm_annotate.trackers = ostrack = pkg.mod:OSTrack``); code can
also ``register`` a factory in-process.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from hm_annotate.errors import HMError

T = TypeVar("T")


class PluginError(HMError):
    """An unknown plugin name or a parameter the plugin does not take."""


class Registry(Generic[T]):
    """Factories of one kind of plugin, found by name among built-ins, registrations and entry points."""

    def __init__(
        self, kind: str, group: str, builtins: Mapping[str, str], *, error: type[HMError] = PluginError
    ) -> None:
        self.kind = kind
        self.group = group
        self.error = error  # what lookups raise: a feature's own error class (e.g. DatasetError)
        self._builtins = dict(builtins)
        self._registered: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T]) -> None:
        """Add (or replace) a factory under ``name`` for this process."""
        self._registered[name] = factory

    def _entry_points(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Every name this registry can build, sorted."""
        return sorted(set(self._builtins) | set(self._registered) | set(self._entry_points()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; PluginError listing the known names otherwise."""
        if name in self._registered:
            return self._registered[name]
        if name in self._builtins:
            module, _, attr = self._builtins[name].partition(":")
            found = importlib.import_module(module)
            return getattr(found, attr) if attr else found
        eps = self._entry_points()
        if name in eps:
            try:
                return eps[name].load()
            except Exception as exc:  # a broken plug-in: say which one, whatever went wrong inside it
                raise self.error(f"{self.kind} {name!r}: cannot load {eps[name].value} ({exc})") from exc
        known = ", ".join(self.names())
        raise self.error(f"unknown {self.kind} {name!r} (known: {known})")

    @staticmethod
    def _unaccepted(factory: Callable[..., Any], params: Iterable[str]) -> list[str] | None:
        """The ``params`` a factory does not take, sorted; None when it has no signature to read
        (a builtin: the call decides)."""
        try:
            sig = inspect.signature(factory)
        except (TypeError, ValueError):
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return []
        return sorted(set(params) - set(sig.parameters))

    def accepts(self, name: str, param: str) -> bool:
        """Whether plugin ``name`` takes a keyword parameter ``param`` (e.g. ``device``)."""
        return not self._unaccepted(self.factory(name), [param])

    def create(self, name: str, *args: Any, **params: Any) -> T:
        """Build plugin ``name`` with ``args`` and ``params``, naming any parameter it does not accept."""
        factory = self.factory(name)
        unknown = self._unaccepted(factory, params)
        if unknown:
            sig = inspect.signature(factory)
            accepted = ", ".join(p for p in sig.parameters if p != "self") or "none"
            names = ", ".join(map(repr, unknown))
            raise self.error(f"{self.kind} {name!r} has no parameter {names} (accepted: {accepted})")
        return factory(*args, **params)
