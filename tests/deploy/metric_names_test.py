"""deploy.metric_names: every metric the Grafana dashboard and the alert rules
query is exported by a live dagd or dagd-worker (after a job ran, so labelled
families have series). Histograms count as their _bucket/_sum/_count series;
`up` is Prometheus's own.

Usage: metric_names_test.py --dagd=BIN --worker=BIN --dagctl=BIN --examples=DIR
"""

import argparse
import json
import os

import yaml

from deploy_lib import (DEPLOY, Failure, Processes, dashboard_exprs, deadline,
                        exported_series_names, http_get, live_dagd_and_worker,
                        promql_metric_names, rule_exprs, run_main)

PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

# The tokenizer on expressions whose answer is known.
TOKENIZER_CASES = [
    ('histogram_quantile(0.9, sum by (fn, le) (rate(x_seconds_bucket{fn!~"a|b"}[$__rate_interval])))',
     {"x_seconds_bucket"}),
    ('sum without (state) (rate(jobs_total{state="failed"}[10m])) / sum(rate(jobs_total[10m] offset 1h)) > 0.1',
     {"jobs_total"}),
    ('up{job="dagd"} == 0 and on(instance) group_left(version) build_info or vector(1)',
     {"up", "build_info"}),
    ('max_over_time(a:b:c[5m:30s]) > bool 1e3 unless count(d) by (le)', {"a:b:c", "d"}),
]


def parse(argv):
    p = argparse.ArgumentParser()
    for name in ("dagd", "worker", "dagctl", "examples"):
        p.add_argument("--" + name, required=True)
    return p.parse_args(argv)


def referenced():
    """{metric name: [where it is used]} over the dashboard and the rules."""
    uses = {}
    with open(os.path.join(DEPLOY, "grafana", "dagd-dashboard.json")) as f:
        for title, expr in dashboard_exprs(json.load(f)):
            for n in promql_metric_names(expr):
                uses.setdefault(n, []).append("dashboard panel %r" % title)
    rules_dir = os.path.join(DEPLOY, "prometheus", "rules")
    for name in sorted(os.listdir(rules_dir)):
        with open(os.path.join(rules_dir, name)) as f:
            for rule, expr in rule_exprs(yaml.safe_load(f)):
                for n in promql_metric_names(expr):
                    uses.setdefault(n, []).append("rule %s in %s" % (rule, name))
    return uses


def main(argv):
    a = parse(argv)
    for expr, want in TOKENIZER_CASES:
        got = promql_metric_names(expr)
        if got != want:
            raise Failure("tokenizer self-check: %r gave %s, want %s" % (expr, got, want))
    uses = referenced()
    if not uses:
        raise Failure("no metric names found in the dashboard and rules")

    with deadline(60, "the test"), Processes() as procs:
        dagd_url, worker_url = live_dagd_and_worker(procs, a)
        dagd_names = exported_series_names(http_get(dagd_url)[1])
        worker_names = exported_series_names(http_get(worker_url)[1])

    exported = dagd_names | worker_names | PROMETHEUS_OWN
    missing = sorted(n for n in uses if n not in exported)
    print("%d metric names referenced; dagd exports %d series names, the worker %d"
          % (len(uses), len(dagd_names), len(worker_names)))
    if missing:
        raise Failure(
            "%d referenced metric name(s) are exported by neither dagd nor the "
            "worker:\n  %s" % (len(missing), "\n  ".join(
                "%s\n      used by: %s" % (n, "; ".join(sorted(set(uses[n]))))
                for n in missing)))


if __name__ == "__main__":
    run_main(main)
