# Everything a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= demo-output

.PHONY: demo test lint venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One install resolves every dependency together (medspaCy pins spaCy < 3.8, hence numpy < 2).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/nmsnlp screen corpora/demo/notes.jsonl --out $(OUT) --force --show-evidence --title-col note_type \
		--review --sample-unflagged 6 --seed 1
	@echo ""
	@echo "All results are in $(OUT)/: screening_list.csv (flagged notes, ranked), patients.csv, scores.csv, mentions.jsonl, errors.jsonl, run.json"
	@echo "Chart review: open $(abspath $(OUT))/review.html in a browser (keys: j/k move, 1-4 decide, e export; it holds note text)"

test: venv
	$(BIN)/ruff check nmsnlp tests bench
	$(BIN)/mypy nmsnlp
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/negex.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) $(OUT) build dist *.egg-info
