"""Changing the graph of a running server: SPARQL updates (opt-in), reloads, and the bearer token both need.

Both are off unless the server is given a token (``kg serve --token-file FILE`` or
``KG_UPDATE_TOKEN``); updates also need ``--allow-update``. A request without
``Authorization: Bearer …`` gets 401, a wrong token 403, and nothing changes.

**Updates** (:func:`apply_update`) run in a network-less worker process, on a checkpoint of the
current store in a new folder, in one pyoxigraph transaction: an update that fails part-way, times
out or crashes its worker changes nothing. ``LOAD`` and ``SERVICE`` are refused before anything
runs, and could not connect anyway. The new folder is flushed, served by new workers and (with
``--location``) recorded as current before the update is acknowledged, so it survives a ``kill -9``.

**Reloads** (:func:`reload_graph`, ``POST /admin/reload``, or ``kg serve --watch`` polling the
files' modification times) copy the data files to a private snapshot, check the snapshot in a
child process (Turtle syntax, then the SHACL shapes: :mod:`server.checkdata`), load it into a new
store folder (in another child process) and start new query workers on it; only when all that succeeded is the new graph swapped in,
in one step. A rejected reload (422) says ``file:line`` and what is wrong; the old graph keeps
serving.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kg.errors import KGError, TurtleSyntaxError
from kg.load import expand, ontology_sources, shapes_sources
from kg.store import EmbeddedStore
from server.errors import ApiError
from server.graphs import build
from server.pool import PoolError
from server.state import Ontology, ServerState, get_state

__all__ = ["apply_update", "check_token", "fingerprint", "reload_graph", "router", "watch"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", tags=["Administration"])

MIN_TOKEN = 16
CHECKER = Path(__file__).with_name("checkdata.py")
"""Run as a script (``-P``: without importing the server package), it starts in a third of a second."""
CHECK_TIMEOUT = 900.0
_REALM = 'Bearer realm="jp-funding-kg"'


def check_token(request: Request, state: ServerState, *, what: str) -> None:
    """Let the request through only with ``Authorization: Bearer <the server's token>``.

    Raises
    ------
    ApiError
        403 when the server has no token (the feature is off) or the token is wrong; 401 when
        the request has no bearer token.
    """
    if state.admin_token is None:
        raise ApiError(403, f"{what} is disabled on this server: start it with --token-file FILE "
                            "(or KG_UPDATE_TOKEN) to enable it")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, f"{what} needs a bearer token: send 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": _REALM})
    if not hmac.compare_digest(token.strip().encode(), state.admin_token.encode()):
        raise ApiError(403, "the bearer token is not this server's; nothing was changed",
                       headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'})


# ---------------------------------------------------------------- updates

async def apply_update(state: ServerState, text: str, *, client: str | None = None) -> dict[str, Any]:
    """Run the SPARQL update *text* in a worker process, atomically; then serve the new graph.

    The worker applies it to a checkpoint of the current store in a new folder (no network, a
    memory limit, the query timeout); new workers are started on that folder and switched to, and
    with ``--location`` the folder is recorded as current, before this returns. One update or
    reload at a time. The caller has checked the token and refused LOAD/SERVICE.

    Raises
    ------
    ApiError
        400 the update does not parse or fails (nothing changed); 503 it timed out (nothing
        changed), or the new query workers did not start (nothing changed either).
    """
    store = state.store
    if not isinstance(store, EmbeddedStore):
        raise ApiError(403, "updates need the embedded store; this server forwards to a remote SPARQL store")
    await run_in_threadpool(state.write_lock.acquire)
    try:
        triples, target = await state.runner.update(text, client=client)
        try:
            new = await run_in_threadpool(state.runner.swap, target)
        except PoolError as exc:
            state.runner.folders().discard(target)
            raise ApiError(503, f"the query workers could not start on the updated graph ({exc}); the update "
                                "was not applied, nothing was changed") from None
        state.store = new
        state.generation += 1
        return {"updated": True, "triples": triples, "generation": state.generation}
    finally:
        state.write_lock.release()


# ---------------------------------------------------------------- reloads

def _watched(state: ServerState) -> list[Path]:
    assert state.reload_from is not None
    return [*ontology_sources(), *shapes_sources(), *expand(state.reload_from)]


def fingerprint(state: ServerState) -> dict[str, tuple[int, int]]:
    """Path → (mtime_ns, size) of every file a reload reads; a missing path shows as ``(-1, -1)``."""
    if state.reload_from is None:
        return {}
    try:
        files = _watched(state)
    except KGError as exc:  # a data path vanished: that is a change too
        return {f"missing: {exc}": (-1, -1)}
    out: dict[str, tuple[int, int]] = {}
    for f in files:
        try:
            st = f.stat()
            out[str(f)] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[str(f)] = (-1, -1)
    return out


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class ReloadRejected(ApiError):
    """422: the new data has errors; the old graph keeps serving."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:20] + ([f"… and {len(errors) - 20} more"] if len(errors) > 20 else [])
        super().__init__(422, "reload rejected, the old graph keeps serving:\n" + "\n".join(shown))


def _check(snapshot: list[tuple[Path, str]], timeout: float) -> list[str]:
    args = [f"{p}={name}" for p, name in snapshot]
    try:
        proc = subprocess.run([sys.executable, "-P", str(CHECKER), *args], capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [f"checking the data took longer than {timeout:g} s"]
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ApiError(500, f"the data checker failed (status {proc.returncode}): {tail[0]}") from None
    return list(report["errors"])


def reload_graph(state: ServerState, *, trigger: str = "request", force: bool = True,
                 check_timeout: float = CHECK_TIMEOUT) -> dict[str, Any]:
    """Read the data files again and, if they are valid, serve them from now on.

    Blocking: call it from a thread. Without *force* nothing is done when no file changed since
    the current graph was read (``{"reloaded": False, "unchanged": True}``).

    Raises
    ------
    ReloadRejected
        422 with ``file:line`` messages: a Turtle syntax error or a SHACL violation.
    ApiError
        409 the graph is not loaded from files; 503 the new workers did not start.
    """
    if state.reload_from is None:
        raise ApiError(409, "this server's graph is not loaded from files (a store on disk or a remote "
                            "store), so there is nothing to reload")
    started = time.monotonic()
    with state.write_lock:
        seen = fingerprint(state)
        if not force and seen == state.loaded:
            return {"reloaded": False, "unchanged": True, "trigger": trigger, "generation": state.generation}
        tmp = Path(tempfile.mkdtemp(prefix="kg-reload-"))
        try:
            try:
                files = expand(state.reload_from)
            except KGError as exc:
                raise ReloadRejected([str(exc)]) from None
            snapshot: list[tuple[Path, str]] = []
            for i, f in enumerate(files):
                copy = tmp / f"{i:04d}-{f.name}"
                try:
                    shutil.copyfile(f, copy)
                except OSError as exc:
                    raise ReloadRejected([f"{_shown(f)}: cannot read: {exc.strerror}"]) from None
                snapshot.append((copy, _shown(f)))
            errors = _check(snapshot, check_timeout)
            if errors:
                raise ReloadRejected(errors)
            names = {str(p): name for p, name in snapshot}
            graphs = state.runner.folders()
            target = graphs.next_path()
            try:
                # loaded by a child process into a new folder: a refused reload leaves nothing in this one
                triples = build(target, [*ontology_sources(), *(p for p, _ in snapshot)])
                ontology = Ontology.load()
            except TurtleSyntaxError as exc:
                where = ":".join(str(x) for x in (names.get(str(exc.path), str(exc.path)), exc.line, exc.column)
                                 if x is not None)
                raise ReloadRejected([f"{where}: Turtle syntax error: {exc.detail}"]) from None
            except KGError as exc:
                raise ApiError(503, f"the new graph is valid but could not be loaded ({exc}); the old graph "
                                    "keeps serving") from None
            try:
                store = state.runner.swap(target)
            except PoolError as exc:
                graphs.discard(target)
                raise ApiError(503, f"the new graph is valid but its query workers did not start ({exc}); "
                                    "the old graph keeps serving") from None
            store.files = [Path(n) for _, n in snapshot]
            state.store = store
            state.ontology = ontology
            state.generation += 1
            state.loaded = seen
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"reloaded": True, "trigger": trigger, "generation": state.generation, "triples": triples,
            "files": len(snapshot), "seconds": round(time.monotonic() - started, 3)}


def _record(state: ServerState, outcome: dict[str, Any]) -> None:
    state.last_reload = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **outcome}


async def watch(state: ServerState, interval: float) -> None:
    """Poll the files' modification times every *interval* seconds; reload when they change.

    A rejected reload is logged (``file:line``) and retried only when the files change again.
    """
    last = await run_in_threadpool(fingerprint, state)
    if not state.loaded:
        state.loaded = last
    while True:
        await asyncio.sleep(interval)
        now = await run_in_threadpool(fingerprint, state)
        if now == last:
            continue
        last = now
        if now == state.loaded:  # already served (a POST /admin/reload was quicker)
            continue
        try:
            outcome = await run_in_threadpool(lambda: reload_graph(state, trigger="watch", force=False))
        except ApiError as exc:
            log.error("kg serve --watch: %s", exc.detail)
            print(f"kg serve: {exc.detail}", file=sys.stderr, flush=True)
            _record(state, {"reloaded": False, "trigger": "watch", "status": exc.status, "detail": exc.detail})
        else:
            if not outcome["reloaded"]:
                continue
            print(f"kg serve: reloaded {outcome['files']} data files ({outcome['triples']} triples, "
                  f"generation {outcome['generation']})", file=sys.stderr, flush=True)
            _record(state, outcome)


# ---------------------------------------------------------------- routes

@router.post("/reload", summary="Reload the data files (bearer token)",
             responses={401: {"description": "No bearer token"}, 403: {"description": "Wrong token, or no token set"},
                        409: {"description": "The graph is not loaded from files"},
                        422: {"description": "Turtle syntax error or SHACL violation; the old graph keeps serving"}})
async def reload(request: Request, force: bool = False) -> JSONResponse:
    """Read the data files again, check them (syntax, SHACL) and swap the new graph in atomically.

    Nothing is done when no file changed since the graph was loaded, unless ``force=true``.
    """
    state = get_state(request)
    check_token(request, state, what="reloading")
    try:
        outcome = await run_in_threadpool(lambda: reload_graph(state, force=force))
    except ApiError as exc:
        _record(state, {"reloaded": False, "trigger": "request", "status": exc.status, "detail": exc.detail})
        raise
    _record(state, outcome)
    return JSONResponse(outcome)


@router.get("/status", summary="Generation, size and the last reload (bearer token)")
async def status(request: Request) -> JSONResponse:
    """What the server serves now; for operators."""
    state = get_state(request)
    check_token(request, state, what="the status page")
    pool = state.runner.pool
    return JSONResponse({
        "generation": state.generation,
        "triples": await run_in_threadpool(state.store.count),
        "allow_update": state.allow_update,
        "persistent": state.persistent,
        "reloadable": state.reload_from is not None,
        "workers": {"size": pool.size, "pids": pool.pids(), "network": pool.network,
                    "started": pool.started_workers} if pool is not None else None,
        "last_reload": state.last_reload,
    })
