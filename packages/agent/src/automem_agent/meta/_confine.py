"""Entry point inside the sandbox: `python -I _confine.py CONFINEMENT_JSON SCRIPT ARGS...`.

A plain script (standard library only, so a broken package cannot stop it). It applies the
resource limits, drops to the given uid when it has one (only root can), then runs SCRIPT as
`__main__` with `sys.argv = [SCRIPT, *ARGS]`. Limits come first: nothing the code does runs
before them.
"""

import json
import os
import resource
import runpy
import sys


def _limit(which, value):
    if value is None:
        return
    _soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def main():
    confinement = json.loads(sys.argv[1])
    script, args = sys.argv[2], sys.argv[3:]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _limit(resource.RLIMIT_AS, confinement.get("memory_bytes"))
    _limit(resource.RLIMIT_FSIZE, confinement.get("file_bytes"))
    uid = confinement.get("uid")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from here on RLIMIT_NPROC binds: the uid is not root
    _limit(resource.RLIMIT_NPROC, confinement.get("nproc"))
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
