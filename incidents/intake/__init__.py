"""Alert intake: configured alert sources (Alertmanager, Grafana Alerting, a generic
JSON webhook), their bounded bodies, correlation rules and flap damping.

``body`` reads a notification of any size with bounded memory, ``normalize`` turns
each sender's payload into groups of alerts, ``rules`` holds a source's matchers and
mappings, ``receive`` applies a group to its incident, ``settle`` moves a resolved
incident to recover after the hold time, ``sources`` writes sources and their log.
"""
