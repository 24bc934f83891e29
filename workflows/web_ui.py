"""Links from the API's runs into the Temporal Web UI."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class WebUi:
    """The Web UI at ``base_url`` (empty: no UI configured, so no links)."""

    base_url: str
    namespace: str

    def run_url(self, workflow_id: str, temporal_run_id: str | None) -> str | None:
        """The run's event history page, or None without a UI or before the workflow started."""
        if not self.base_url or not temporal_run_id:
            return None
        parts = (self.namespace, workflow_id, temporal_run_id)
        namespace, workflow, run = (quote(part, safe="") for part in parts)
        return f"{self.base_url}/namespaces/{namespace}/workflows/{workflow}/{run}/history"
