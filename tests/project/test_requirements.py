"""The locked sets: production installs the runtime lock alone, or the
OpenTelemetry lock (the runtime set plus the optional packages); the tests
run with both."""

import re

from django.conf import settings

PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (settings.BASE_DIR / "requirements" / name).read_text()
    return {package.lower(): version for package, version in PIN.findall(text)}


def test_the_otel_lock_is_the_runtime_lock_plus_opentelemetry_and_the_dev_lock_holds_both():
    runtime, otel, dev = pins("runtime.txt"), pins("otel.txt"), pins("dev.txt")

    assert not [package for package in runtime if package.startswith("opentelemetry")]
    assert runtime.items() <= otel.items()
    assert {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"} <= otel.keys()
    assert otel.items() <= dev.items()
