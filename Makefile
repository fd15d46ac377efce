# jp-funding-kg — the two entry points of the README:
#   make serve   install (locked versions + Debian graphviz and CJK fonts), then serve the graph
#                (embedded store) on http://127.0.0.1:8000/
#   make test    install (locked versions + the Debian packages the tests need), validate, run the tests
#   make lock    re-resolve every dependency to its newest release (then: make test)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
PIP_FLAGS = --quiet --disable-pip-version-check
# Debian packages: what the served pages draw with, and what the tests need on top.
SERVE_APT = graphviz fonts-noto-cjk
TEST_APT = $(SERVE_APT) chromium virtuoso-opensource
# uv resolves the locks (make lock only); installing needs nothing but pip.
UV_VERSION = 0.13.9
LOCK = pip compile pyproject.toml requirements/build.in --universal --python-version 3.11 --generate-hashes --upgrade -q

.PHONY: install install-test system-deps-serve system-deps-test serve test validate bench lock national

# Exactly the locked versions (hash-checked), then the project itself without touching them.
install:
	$(PIP) install $(PIP_FLAGS) --require-hashes -r requirements/run.lock
	$(PIP) install $(PIP_FLAGS) --no-deps --no-build-isolation -e .

install-test:
	$(PIP) install $(PIP_FLAGS) --require-hashes -r requirements/test.lock
	$(PIP) install $(PIP_FLAGS) --no-deps --no-build-isolation -e .

system-deps-serve:
	@$(PYTHON) -m kg.sysdeps $(SERVE_APT)

system-deps-test:
	@$(PYTHON) -m kg.sysdeps $(TEST_APT)

serve: system-deps-serve install
	$(PYTHON) -m kg serve

# The national picture: import the RS system's zips (RS=folder, default ../shared/data/rs2024) into an
# on-disk store once (national.store/), then serve it. Remove national.store/ to import again.
RS ?= ../shared/data/rs2024
national: system-deps-serve install
	test -d national.store || $(PYTHON) -m kg import rs $(RS) --location national.store
	$(PYTHON) -m kg serve --location national.store

validate:
	$(PYTHON) -m kg validate

test: system-deps-test install-test
	$(PYTHON) -m kg validate
	$(PYTHON) bench/named_queries.py --quick
	$(PYTHON) bench/startup.py --quick
	$(PYTHON) bench/sparql_http.py --quick
	$(PYTHON) bench/validate.py --quick
	$(PYTHON) bench/views.py --quick
	$(PYTHON) bench/memory.py --quick
	$(PYTHON) bench/attack.py --quick
	$(PYTHON) bench/pages.py --quick
	$(PYTHON) bench/remote.py --quick
	$(PYTHON) bench/rs_import.py --quick
	$(PYTHON) -m pytest -q

lock:
	$(PIP) install $(PIP_FLAGS) uv==$(UV_VERSION)
	$(PYTHON) -m uv $(LOCK) -o requirements/run.lock
	$(PYTHON) -m uv $(LOCK) --extra test -o requirements/test.lock
	@echo "locks updated: now run 'make test'; commit requirements/*.lock when it passes"

bench: install-test
	$(PYTHON) bench/named_queries.py
