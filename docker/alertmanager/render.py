"""Write Alertmanager's configuration from the environment (standard library only: it runs in a
plain python image before Alertmanager starts, see docker/compose.monitoring.yaml).

    ALERT_WEBHOOK_URL=https://hooks.example/alerts python docker/alertmanager/render.py --out alertmanager.yml

Receivers, each left out when its variables are unset:

- ``webhook``: ``ALERT_WEBHOOK_URL`` (Alertmanager's JSON webhook, resolved alerts included)
- ``slack``:   ``ALERT_SLACK_WEBHOOK_URL`` (an incoming-webhook URL), optional ``ALERT_SLACK_CHANNEL``
- ``email``:   ``ALERT_EMAIL_TO``, ``ALERT_SMTP_SMARTHOST`` (host:port), ``ALERT_SMTP_FROM``, optional
  ``ALERT_SMTP_USERNAME`` and ``ALERT_SMTP_PASSWORD`` (both or neither)

Routes by the alert's ``severity`` label: critical -> every configured receiver; warning -> slack
and webhook; info -> webhook. With no receiver configured, or one configured by halves, it prints one
line naming the variables and exits 2. It never prints a URL, an address or a password: the written
file holds them (mode 0600), its one-line summary names only the receivers and their severities.

The output is JSON, which is YAML: Alertmanager reads it as its config file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# receiver -> the severities routed to it, in the order they are listed
SEVERITIES: dict[str, tuple[str, ...]] = {
    "webhook": ("critical", "warning", "info"),
    "slack": ("critical", "warning"),
    "email": ("critical",),
}
VARIABLES = ("ALERT_WEBHOOK_URL", "ALERT_SLACK_WEBHOOK_URL", "ALERT_SLACK_CHANNEL", "ALERT_EMAIL_TO",
             "ALERT_SMTP_SMARTHOST", "ALERT_SMTP_FROM", "ALERT_SMTP_USERNAME", "ALERT_SMTP_PASSWORD")
NONE_SET = ("no alert receiver configured: set ALERT_WEBHOOK_URL, or ALERT_SLACK_WEBHOOK_URL (and optionally "
            "ALERT_SLACK_CHANNEL), or ALERT_EMAIL_TO with ALERT_SMTP_SMARTHOST and ALERT_SMTP_FROM (and optionally "
            "ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD); see docs/alerts.md")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")

TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}'
TEXT = ("{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
        "_runbook_: {{ .Annotations.runbook }}\n{{ end }}")


class RenderError(Exception):
    """A configuration the environment cannot give: the message names the variables (never a value)."""


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _url(env: Mapping[str, str], name: str) -> str:
    value = _get(env, name)
    if not re.match(r"^https?://[^\s/]+", value):
        raise RenderError(f"{name} is not an http(s) URL; give the full address, e.g. https://host/path")
    return value


def receivers(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The configured receivers (name -> Alertmanager receiver), in routing order."""
    out: dict[str, dict[str, Any]] = {}
    if _get(env, "ALERT_WEBHOOK_URL"):
        out["webhook"] = {"webhook_configs": [{"url": _url(env, "ALERT_WEBHOOK_URL"), "send_resolved": True}]}
    if _get(env, "ALERT_SLACK_WEBHOOK_URL"):
        slack: dict[str, Any] = {"api_url": _url(env, "ALERT_SLACK_WEBHOOK_URL"), "send_resolved": True,
                                 "title": TITLE, "text": TEXT}
        if _get(env, "ALERT_SLACK_CHANNEL"):
            slack["channel"] = _get(env, "ALERT_SLACK_CHANNEL")
        out["slack"] = {"slack_configs": [slack]}
    elif _get(env, "ALERT_SLACK_CHANNEL"):
        raise RenderError("ALERT_SLACK_CHANNEL is set but ALERT_SLACK_WEBHOOK_URL is not: set the Slack incoming "
                          "webhook URL too, or unset the channel")
    email_vars = ("ALERT_EMAIL_TO", "ALERT_SMTP_SMARTHOST", "ALERT_SMTP_FROM", "ALERT_SMTP_USERNAME",
                  "ALERT_SMTP_PASSWORD")
    if any(_get(env, v) for v in email_vars):
        missing = [v for v in email_vars[:3] if not _get(env, v)]
        if missing:
            given = [v for v in email_vars if _get(env, v)]
            raise RenderError(f"e-mail alerts need {', '.join(email_vars[:3])}: {', '.join(given)} "
                              f"{'is' if len(given) == 1 else 'are'} set but {', '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not")
        if bool(_get(env, "ALERT_SMTP_USERNAME")) != bool(_get(env, "ALERT_SMTP_PASSWORD")):
            raise RenderError("ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together: set both (SMTP login) "
                              "or neither")
        if not re.match(r"^[^\s:]+:[0-9]+$", _get(env, "ALERT_SMTP_SMARTHOST")):
            raise RenderError("ALERT_SMTP_SMARTHOST is not HOST:PORT, e.g. smtp.example.com:587")
        email: dict[str, Any] = {"to": _get(env, "ALERT_EMAIL_TO"), "from": _get(env, "ALERT_SMTP_FROM"),
                                 "smarthost": _get(env, "ALERT_SMTP_SMARTHOST"), "send_resolved": True,
                                 "headers": {"Subject": TITLE}}
        if _get(env, "ALERT_SMTP_USERNAME"):
            email["auth_username"] = _get(env, "ALERT_SMTP_USERNAME")
            email["auth_password"] = _get(env, "ALERT_SMTP_PASSWORD")
        out["email"] = {"email_configs": [email]}
    if not out:
        raise RenderError(NONE_SET)
    return out


def render(env: Mapping[str, str], group_wait: str = "30s", group_interval: str = "5m",
           repeat_interval: str = "4h") -> dict[str, Any]:
    """The Alertmanager configuration for ``env``."""
    for flag, value in (("--group-wait", group_wait), ("--group-interval", group_interval),
                        ("--repeat-interval", repeat_interval)):
        if not _DURATION.match(value):
            raise RenderError(f"{flag} {value!r} is not a duration such as 30s, 5m or 4h")
    found = receivers(env)
    routes = [{"receiver": name, "matchers": [f'severity=~"{"|".join(SEVERITIES[name])}"'], "continue": True}
              for name in found]
    return {
        "route": {
            "receiver": "blackhole",  # an alert without a known severity: none of the routes below
            "group_by": ["alertname", "experiment", "mode"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [{  # the run's endpoint is down: its other alerts are stale news
            "source_matchers": ['alertname="AlgotradeExporterDown"'],
            "target_matchers": ['alertname!="AlgotradeExporterDown"'],
            "equal": ["instance"],
        }],
        "receivers": [{"name": "blackhole"}, *({"name": name, **spec} for name, spec in found.items())],
    }


def summary(config: Mapping[str, Any]) -> str:
    """What the config routes where, without a single address or secret."""
    names = [r["name"] for r in config["receivers"] if r["name"] != "blackhole"]
    return ", ".join(f"{n} ({', '.join(SEVERITIES[n])})" for n in names)


def write(config: Mapping[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# written by docker/alertmanager/render.py from ALERT_* variables: do not edit, do not commit\n")
        f.write(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, out)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="render.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("alertmanager.yml"), help="where to write (alertmanager.yml)")
    parser.add_argument("--group-wait", default="30s", help="wait before a new group's first notification (30s)")
    parser.add_argument("--group-interval", default="5m", help="wait before notifying a group's changes (5m)")
    parser.add_argument("--repeat-interval", default="4h", help="re-send a still-firing group after (4h)")
    args = parser.parse_args(argv)
    try:
        config = render(os.environ if env is None else env, args.group_wait, args.group_interval,
                        args.repeat_interval)
    except RenderError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    write(config, args.out)
    print(f"render.py: wrote {args.out}: receivers {summary(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
