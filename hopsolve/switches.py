"""Environment switches (``HOPSOLVE_DEBUG``, ``HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD``, ``HOPSOLVE_TRACE_PLUGINS``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

OFF = ("", "0", "false", "no", "off")


def switched_on(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the switch ``name`` is on: set to anything but empty, ``0``, ``false``, ``no`` or ``off`` (any
    case). A plain "is it set" turned ``HOPSOLVE_DEBUG=0`` into tracebacks and ``HOPSOLVE_DISABLE_PLUGIN_AUTOLOAD=0``
    into a registry without plugins."""
    value = (os.environ if env is None else env).get(name)
    return value is not None and value.strip().lower() not in OFF
