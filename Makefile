# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up by them.
PY := .venv/bin/python
PYTEST_ARGS ?=

include infra/terraform/Makefile.inc

.PHONY: infra-test-tools run test bootstrap system python lint typecheck test-fast stack-up stack-down clean

run: bootstrap
	$(PY) -m anomaly_cli.main demo

test: bootstrap infra-test-tools
	$(PY) -m anomaly_cli.main stack up
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: bootstrap
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bootstrap: system python

system:
	@scripts/bootstrap-system.sh

python:
	@scripts/bootstrap-python.sh

lint: python
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

stack-up: bootstrap
	$(PY) -m anomaly_cli.main stack up

stack-down:
	$(PY) -m anomaly_cli.main stack down

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

# The AWS provider is only linked when the machine already has a mirror (building it takes over an hour);
# the Terraform tests say loudly which checks they ran. helm, kubeconform and the Kubernetes/KEDA schemas
# for tests/integration/test_helm.py are built once into ~/.cache/anomaly (a few minutes the first time).
infra-test-tools:
	@infra/terraform/scripts/provider-mirror.sh --no-build || true
	@infra/terraform/scripts/checkov.sh --install-only
	@infra/compose/scripts/compose-cli.sh
	@infra/helm/scripts/helm-tools.sh
