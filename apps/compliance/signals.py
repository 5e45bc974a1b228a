"""Signals of the compliance engine.

``history_changed`` is sent when facts already measured moved in time (an MQL re-dated by a
late, older fact): ``moments`` are the old and new times. Whatever keeps numbers of past
periods (the dashboards' stored charts) drops the periods containing them.
"""

from django.dispatch import Signal

history_changed = Signal()  # kwargs: moments (list[datetime])
