"""A local function's stdout (its CloudWatch log stream in AWS) goes to stderr, overlapping
invocations included, and the caller's stdout comes back intact."""

from __future__ import annotations

import sys
import threading

from localmode.drivers.logs import function_logs


def test_what_a_function_prints_goes_to_stderr_and_stdout_is_restored(capsys) -> None:
    caller_stdout = sys.stdout
    inside = threading.Event()
    release = threading.Event()

    def invocation() -> None:
        with function_logs():
            print("from the thread")
            inside.set()
            release.wait(10)

    # GIVEN one invocation running in a thread
    thread = threading.Thread(target=invocation)
    thread.start()
    assert inside.wait(10)
    # WHEN a second one starts and ends while the first still runs
    with function_logs():
        print("from the caller")
    print("between", file=sys.stdout)
    release.set()
    thread.join(10)
    # THEN everything printed inside went to stderr, and the caller's stdout is back
    assert sys.stdout is caller_stdout
    print("after")
    out, err = capsys.readouterr()
    assert "from the thread" in err and "from the caller" in err and "between" in err
    assert out == "after\n"
