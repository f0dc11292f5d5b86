"""How the interop peer scripts end (imported from beside them).

`run(main)` runs the script's `main` and leaves with `os._exit`, skipping the
interpreter's teardown: that teardown joins NNG's threads under pynng's sockets,
and on a loaded machine it has hung, and crashed, after a peer's output was
complete. A failure still prints its traceback and exits 1.
"""

import os
import sys
import traceback


def run(main):
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)
