"""Alertmanager, Grafana and generic payloads for the intake tests (and the benchmark)."""

import hashlib


def k8s_labels(index: int, *, service: str = "checkout-api", **extra) -> dict:
    """An alert's labels as kube-prometheus writes them (~1 KiB)."""
    pod = f"{service}-7d9f8b6c4-{index:05d}"
    return {
        "alertname": "KubePodCrashLooping",
        "severity": "critical",
        "service": service,
        "namespace": "production",
        "pod": pod,
        "container": service,
        "instance": f"10.12.{index // 250}.{index % 250}:8080",
        "job": "kube-state-metrics",
        "endpoint": "http",
        "cluster": "prod-eu-1",
        "prometheus": "monitoring/k8s",
        "uid": hashlib.sha256(pod.encode()).hexdigest()[:36],
        "node": f"ip-10-12-{index % 64}-17.eu-west-1.compute.internal",
        "controller_revision_hash": "7d9f8b6c4",
        "topology_kubernetes_io_zone": "eu-west-1a",
        **extra,
    }


def am_alert(fingerprint: str, status: str = "firing", **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", **labels},
        "annotations": {"summary": "5xx above 5%", "description": "checkout 5xx at 12%"},
        "startsAt": "2026-11-23T01:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph?g0.expr=...",
        "fingerprint": fingerprint,
    }


def am_notification(
    *alerts: dict,
    status: str = "firing",
    group_key: str = '{}:{alertname="HighErrorRate"}',
    external_url: str = "http://alertmanager.local",
    service: str = "checkout-api",
    truncated: int = 0,
) -> dict:
    return {
        "receiver": "keel",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical", "service": service},
        "commonAnnotations": {"summary": "5xx above 5%"},
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }


def grafana_notification(*alerts: dict, status: str = "firing", group_labels=None) -> dict:
    body = am_notification(*alerts, status=status, group_key="{}:{}")
    body["groupLabels"] = group_labels or {}
    body["commonLabels"] = {}
    body.update(orgId=1, title=f"[{status.upper()}:{len(alerts)}]  (x)", state="alerting")
    body["externalURL"] = "http://grafana.local/"
    return body


def grafana_alert(rule: str, fingerprint: str, status: str = "firing", **labels) -> dict:
    alert = am_alert(fingerprint, status, alertname=rule, __alert_rule_uid__=f"uid-{rule}")
    alert["labels"].update(labels, grafana_folder="Checkout")
    alert["annotations"] = {"summary": f"{rule} is failing"}
    alert.update(values={"B": 12.5}, valueString="[ var='B' value=12.5 ]")
    return alert
