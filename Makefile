PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	bash tools/demo.sh

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Each script prints its figures; the FineDiving-HM-scale ones take tens of minutes.
BENCHES := store datasets pseudo_label stats coco model train
bench: $(STAMP)
	for b in $(BENCHES); do echo "== $$b"; $(BIN)/python benchmarks/$${b}_bench.py || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
