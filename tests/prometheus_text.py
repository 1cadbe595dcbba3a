"""Reading Prometheus' text exposition format in tests: every line checked, every sample
belonging to a family declared with # TYPE before it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One sample line: name, optional labels, a number.
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_]+="[^"]*"(,[a-zA-Z_]+="[^"]*")*\})? '
                    r"[-+]?(\d+(\.\d*)?([eE][-+]?\d+)?|NaN|[-+]Inf)$")  # fmt: skip
# The samples a histogram family writes, besides none of its own name.
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Exposition:
    """The families (name → type) and samples (name with labels → value) of one scrape."""

    families: dict[str, str]
    samples: dict[str, float]


def parse_exposition(text: str) -> Exposition:
    """Parse one scrape, asserting every line is well formed."""
    families: dict[str, str] = {}
    samples: dict[str, float] = {}
    assert text == "" or text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}
            families[name] = kind
        elif line.startswith("# HELP "):
            continue
        else:
            assert SAMPLE.match(line), line
            key, value = line.rsplit(" ", 1)
            assert family_of(key.split("{")[0], families) is not None, line
            samples[key] = float(value)
    return Exposition(families, samples)


def family_of(sample_name: str, families: dict[str, str]) -> str | None:
    """The declared family a sample (or a series a query names) belongs to, if any."""
    if sample_name in families:
        return sample_name
    for suffix in HISTOGRAM_SUFFIXES:
        base = sample_name.removesuffix(suffix)
        if base != sample_name and families.get(base) == "histogram":
            return base
    return None


def parse_prometheus(text: str) -> dict[str, float]:
    """Samples by name (with labels)."""
    return parse_exposition(text).samples
