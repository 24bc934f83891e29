"""The alert rules and the Grafana dashboard that ship in deploy/: promtool passes them,
and every metric they name is one a running stack's ``/metrics`` exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import Api

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "scheduler-dashboard.json"

# A metric name in PromQL: our families all start with scheduler_ (label names
# and functions never do).
_METRIC = re.compile(r"\bscheduler_[a-zA-Z0-9_:]*")
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$")
_SAMPLE_SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def _promtool(promtool: str, *args: str, cwd: Path) -> None:
    done = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _dashboard_queries() -> list[str]:
    return [target["expr"] for panel in _dashboard()["panels"] for target in panel["targets"]]


def test_alert_rules_pass_promtool_and_each_alert_has_a_firing_unit_test(promtool: str) -> None:
    _promtool(promtool, "check", "rules", ALERTS.name, cwd=ALERTS.parent)
    _promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in _alert_rules()}
    required = {
        "SchedulerRunFailuresRising",
        "SchedulerFireLagHigh",
        "SchedulerMissedFires",
        "SchedulerLateFires",
        "SchedulerNoAliveWorkerForTaskType",
        "SchedulerDatabaseDown",
        "SchedulerNotificationsGivingUp",
    }
    assert required <= names
    assert names - fired == set(), "alerts without a unit test that fires them"
    assert names - quiet == set(), "alerts without a unit test where they stay quiet"


def test_the_dashboard_is_grafana_json_with_valid_queries(promtool: str, tmp_path: Path) -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}, panel
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"])
    titles = " ".join(panel["title"].lower() for panel in panels)
    for subject in ("status", "duration", "fire lag", "workers", "http latency"):
        assert subject in titles, subject
    # promtool parses PromQL only in rule files: each query as a recording rule.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": expr}
                    for index, expr in enumerate(_dashboard_queries())
                ],
            }
        ]
    }
    (tmp_path / "dashboard_rules.yml").write_text(yaml.safe_dump(rules))
    _promtool(promtool, "check", "rules", "dashboard_rules.yml", cwd=tmp_path)


def _exported_names(text: str) -> set[str]:
    """Every sample name a scrape declares (``# TYPE``) or carries."""
    names: set[str] = set()
    for line in text.splitlines():
        declared = _TYPE_LINE.match(line)
        if declared:
            name, kind = declared.groups()
            names.add(name)
            names.update(name + suffix for suffix in _SAMPLE_SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.mark.one_backend  # names, not SQL
def test_every_metric_the_rules_and_dashboard_name_is_exported(anonymous: Api) -> None:
    response = anonymous.get("/metrics")
    assert response.status_code == 200, response.text
    exported = _exported_names(response.text)
    queries = [rule["expr"] for rule in _alert_rules()] + _dashboard_queries()
    used = {name for query in queries for name in _METRIC.findall(query)}
    assert len(used) >= 10, used  # the regex found the queries' metrics
    assert used - exported == set(), "named in deploy/ but not exported by /metrics"
