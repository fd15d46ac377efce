# jp-funding-kg — the two entry points of the README:
#   make serve   install, then serve the graph (embedded store) on http://127.0.0.1:8000/
#   make test    install (with the Debian packages the diagram and browser tests need), validate, run the tests
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
APT_PACKAGES = graphviz fonts-noto-cjk chromium

.PHONY: install install-test system-deps serve test validate bench

install:
	$(PIP) install --quiet --disable-pip-version-check -e .

install-test:
	$(PIP) install --quiet --disable-pip-version-check -e '.[test,diagrams]'

system-deps:
	@if command -v dot >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
		echo "system packages present: $(APT_PACKAGES)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	else \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

serve: install
	$(PYTHON) -m kg serve

validate:
	$(PYTHON) -m kg validate

test: system-deps install-test
	$(PYTHON) -m kg validate
	$(PYTHON) bench/named_queries.py --quick
	$(PYTHON) bench/startup.py --quick
	$(PYTHON) bench/sparql_http.py --quick
	$(PYTHON) bench/validate.py --quick
	$(PYTHON) bench/views.py --quick
	$(PYTHON) bench/memory.py --quick
	$(PYTHON) -m pytest -q

bench: install-test
	$(PYTHON) bench/named_queries.py
