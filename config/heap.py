"""The long-lived heap of a process, set aside from Python's cyclic garbage collector.

A hand-off batch allocates a few hundred thousand objects (model rows, rule evaluations,
explanations) that live until it ends, so the collector's oldest generation runs during
it — and a full collection walks every object the process holds, Django's and the app's
modules included: 60-75 ms of a 1,000-MQL batch at 1M leads. What exists once the app is
loaded lives as long as the process, so `heap_freeze` moves it to the permanent
generation (gc.freeze) after start-up: later collections walk only what came after.
Called by the entry points once the app is loaded: config/wsgi.py (each gunicorn
worker), the Celery worker processes (config/celery_app.py) and the benchmark set-up.
"""

import gc


def heap_freeze() -> None:
    """Collect the start-up garbage, then leave what remains out of later collections."""
    gc.collect()
    gc.freeze()
