# blockserve: `make serve` to run the seed models, `make test` to check everything.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EXPORT_DIR ?= exported
GRPC_PORT ?= 8500
REST_PORT ?= 8501

.PHONY: install system-deps export serve test test-fast lint proto bench clean

# Re-installs only when pyproject.toml changes.
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Debian packages that tests run for real: prometheus/promtool, nginx, h2load.
system-deps:
	scripts/system-deps

export: install
	$(BIN)/python -m models.export --output-dir $(EXPORT_DIR) --skip-existing

serve: export
	@echo "Serving the seed models: gRPC on localhost:$(GRPC_PORT), REST on localhost:$(REST_PORT). Try:"
	@echo "  curl localhost:$(REST_PORT)/v1/models/mlp"
	@echo "  curl -X POST localhost:$(REST_PORT)/v1/models/param_net:predict -d '{\"instances\": [[1, 2, 3, 4]]}'"
	@echo "  $(BIN)/python -m service.client predict mlp --random 2 --target localhost:$(GRPC_PORT)"
	@echo "  $(BIN)/python -m service.client parameters chimera --target localhost:$(GRPC_PORT)"
	@echo "  curl localhost:$(REST_PORT)/metrics"
	exec $(BIN)/python -m service --port $(GRPC_PORT) --rest_api_port $(REST_PORT) \
		--model_config_file $(EXPORT_DIR)/models.config

test: install system-deps
	$(BIN)/pytest -q

test-fast: install
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

proto: install
	$(BIN)/python -m service.protos.generate

bench: install system-deps
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(EXPORT_DIR) .pytest_cache .ruff_cache
