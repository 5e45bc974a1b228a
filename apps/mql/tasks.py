"""Celery tasks of the MQL engine; each runs in the tenant schema it was sent from."""

from celery import shared_task

from apps.mql.services import BACKTEST_TASK, backtest_run


@shared_task(
    name=BACKTEST_TASK, bind=True, ignore_result=True, max_retries=3, default_retry_delay=10
)
def backtest_run_task(self, run_id: int) -> None:
    """Replay a back-test too large for the request (queued by backtest_start after commit)."""
    backtest_run(run_id=run_id)
