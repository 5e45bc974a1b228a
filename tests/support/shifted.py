"""Run a Python program on the test session's shifted clock: ``python -m tests.support.shifted
-m celery -A config worker …`` or ``python -m tests.support.shifted manage.py runserver …``.

The test session passes its clock offset in ``HANDOFF_TEST_CLOCK_OFFSET`` (see
``tests/support/clock.py``); this shifts the child's clock by the same amount before the
program starts, so the web server and the workers agree with the tests about "now".
"""

import runpy
import sys

from tests.support.clock import is_shifted, offset_seconds, shift_by


def main(argv: list[str]) -> None:
    if is_shifted():
        shift_by(offset_seconds())
    if argv[:1] == ["-m"]:
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
