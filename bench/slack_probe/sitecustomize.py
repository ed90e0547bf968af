"""A probe for the Slack benchmark's service: where a burst's time goes, stage by stage (issue 23).

Not part of the service. Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``, so::

    python bench/slack_burst.py --phase clean --questions 1000 --seconds 10 \
        --service-env PYTHONPATH=bench/slack_probe --service-env PROBE_OUT=/tmp/probe.json
    python bench/slack_probe/probe_report.py /tmp/probe.json

(with ``--code-ref``, put the unpacked code after it: ``PYTHONPATH=bench/slack_probe:bench/results/code-<sha>``;
the path must be absolute, the service runs in a scratch folder). Recorded, with wall-clock
instants: each Slack request's handling and its claim; each pooled connection opened; each pool
checkout's wait; the event loop's lag (a 5 ms sleep that woke late); every garbage collection
(generation, wall and CPU time); the wait for an event slot and the question's stages (open,
finish, similar, surge, username); and, when the loop has not turned for 8 ms, the main thread's
stack. Written as JSON when the service exits.
"""

import asyncio
import atexit
import gc
import importlib.abc
import json
import os
import sys
import threading
import time

OUT = os.environ.get("PROBE_OUT", "/tmp/slack_probe.json")
records: dict[str, list] = {
    key: [] for key in ("request", "claim", "lag", "gc", "connect", "checkout", "stage", "slot_wait", "stack")
}
_started: list = [None]  # the loop monitor, started by the first Slack request
_beat = [time.perf_counter()]
_gc_began = [0.0, 0.0]


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_began[:] = [time.perf_counter(), time.thread_time()]
    else:
        wall, cpu = time.perf_counter() - _gc_began[0], time.thread_time() - _gc_began[1]
        records["gc"].append((time.time(), info["generation"], wall * 1000, cpu * 1000))


gc.callbacks.append(_on_gc)
atexit.register(lambda: json.dump(records, open(OUT, "w")))


async def _loop_monitor() -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        _beat[0] = time.perf_counter()
        await asyncio.sleep(0.005)
        lag = (loop.time() - before - 0.005) * 1000
        if lag > 2:
            records["lag"].append((time.time(), lag))


def _watchdog() -> None:
    main = threading.main_thread().ident
    while True:
        time.sleep(0.002)
        if _started[0] is None or time.perf_counter() - _beat[0] < 0.008:
            continue
        frame = sys._current_frames().get(main)
        stack = []
        while frame is not None and len(stack) < 60:
            code = frame.f_code
            stack.append(f"{code.co_filename.split('site-packages/')[-1]}:{code.co_name}")
            frame = frame.f_back
        records["stack"].append((time.time(), stack))


def _timed(module, name: str, key: str, label: str | None = None) -> None:
    original = getattr(module, name)

    async def timed(*args, **kwargs):
        at, began = time.time(), time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            took = (time.perf_counter() - began) * 1000
            records[key].append((label, at, took) if label else (at, took))

    setattr(module, name, timed)


class _TimedSlots:
    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots

    async def __aenter__(self) -> None:
        at, began = time.time(), time.perf_counter()
        await self.slots.acquire()
        records["slot_wait"].append((at, (time.perf_counter() - began) * 1000))

    async def __aexit__(self, *exc) -> None:
        self.slots.release()


def _install() -> None:
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import AsyncEngine

    from nephthys.database import engine as engines
    from nephthys.memory import surges
    from nephthys.slack import app as slack_app
    from nephthys.slack import deliveries, flows, memory
    from nephthys.tickets import lifecycle

    handle = slack_app.SlackService.handle

    async def probed_handle(self, request):
        if _started[0] is None:
            _started[0] = asyncio.get_running_loop().create_task(_loop_monitor())
        at, began = time.time(), time.perf_counter()
        response = await handle(self, request)
        records["request"].append((at, (time.perf_counter() - began) * 1000, self.ctx.background.pending))
        return response

    slack_app.SlackService.handle = probed_handle
    init = slack_app.SlackService.__init__

    def probed_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._event_slots = _TimedSlots(self._event_slots)

    slack_app.SlackService.__init__ = probed_init
    _timed(deliveries, "claim_event", "claim")
    _timed(AsyncEngine, "raw_connection", "checkout")
    for module, name, label in [
        (lifecycle, "open_ticket", "open"),
        (flows, "finish_ticket", "finish"),
        (memory, "post_similar_tickets", "similar"),
        (memory, "note_surge", "surge"),
        (surges, "join_surge", "join_surge"),
        (flows, "remember_username", "username"),
    ]:
        _timed(module, name, "stage", label)
    create_engine = engines.create_engine

    def probed_create_engine(url, **kwargs):
        engine = create_engine(url, **kwargs)
        name = kwargs.get("application_name", "?")
        event.listen(
            engine.sync_engine.pool, "connect", lambda *_: records["connect"].append((time.time(), name))
        )
        return engine

    engines.create_engine = probed_create_engine


class _InstallBeforeTheApp(importlib.abc.MetaPathFinder):
    """Patches the service's modules just before the app's module is imported (so before it is built)."""

    done = False

    def find_spec(self, name, path, target=None):
        if name == "nephthys.utils.starlette" and not self.done:
            self.done = True
            _install()
        return None


sys.meta_path.insert(0, _InstallBeforeTheApp())
threading.Thread(target=_watchdog, daemon=True).start()
