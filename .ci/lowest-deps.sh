#!/usr/bin/env bash
# Prove the lower bounds in pyproject.toml: install the LOWEST version each direct
# dependency allows (uv's lowest-direct resolution; what they depend on resolves as usual)
# into a clean virtual environment, check that every direct dependency really got its
# declared lower bound (a bound no resolution can reach is not a true bound), then run a
# smoke subset of the tests with them.
#   bash .ci/lowest-deps.sh        (needs uv: pip install '.[ci]'; the suite's services)
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-$(command -v uv || echo .venv/bin/uv)}
venv=$(mktemp -d /tmp/eldercare-lowest.XXXXXX)
trap 'rm -rf "$venv"' EXIT

"$uv" venv --quiet --python "$(command -v python3)" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e '.[test]'

"$venv/bin/python" - <<'PY'
import importlib.metadata as metadata
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
declared = [*project["dependencies"], *project["optional-dependencies"]["demo"],
            *project["optional-dependencies"]["test"]]
wrong, shown = [], []
for text in declared:
    requirement = Requirement(text)
    if requirement.name == "eldercare":
        continue
    lowest = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
    installed = metadata.version(requirement.name)
    shown.append(f"{requirement.name}=={installed}")
    if lowest and Version(installed) != Version(lowest[0]):
        wrong.append(f"{requirement.name}: declared {requirement.specifier}, resolved {installed}")
print("lowest allowed:", " ".join(shown))
if wrong:
    raise SystemExit("lower bounds no resolution reaches: " + "; ".join(wrong))
PY

# Fast tests that touch every direct dependency: the wire contract, settings, storage and
# migrations (asyncpg), the API and its schemathesis fuzzing (aiohttp, pydantic, argon2,
# schemathesis, hypothesis), ingest over a real broker (paho), e-mail and the gateways
# (aiosmtplib, aiosmtpd, yarl), the detectors (numpy), logs, deploy files (PyYAML), the
# metrics of a running stack (prometheus-client).
"$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/test_wire.py tests/test_layers.py tests/test_settings.py tests/test_logs.py \
  tests/test_dependencies.py tests/test_deploy.py tests/test_storage.py tests/test_upgrade.py \
  tests/test_api_auth.py tests/test_api_alerts.py tests/test_api_openapi.py \
  tests/test_ingest.py tests/test_alert_core.py tests/test_alert_delivery.py \
  tests/test_gateways.py tests/test_detector_rules.py tests/test_detector_baseline.py \
  tests/test_api_ops.py tests/test_metrics_live.py
