"""Imported by agentops04_script.py before ``agentops.init``: its metrics go to agentwatch.

agentops 0.4.21 sends metrics to a vendor host written into ``TracingCore`` (no setting,
not in its Config); the loopback guard would refuse it and the exporter log errors. Here
``TracingCore.initialize`` is given agentwatch's ``/v1/metrics`` instead, which accepts
and counts them.
"""

from __future__ import annotations

import os
from typing import Any

from agentops.sdk.core import TracingCore

_initialize = TracingCore.initialize


def _initialize_with_local_metrics(
    self: TracingCore, jwt_provider: Any = None, **kwargs: Any
) -> None:
    kwargs["metrics_endpoint"] = os.environ["AGENTWATCH_ENDPOINT"] + "/v1/metrics"
    _initialize(self, jwt_provider=jwt_provider, **kwargs)


TracingCore.initialize = _initialize_with_local_metrics  # type: ignore[method-assign]
