"""A root shell inside a namespace guest, for the portal's console:
`python -m workers.host.guest_shell <spec json> [<bash rc file>]`.

Runs where the guest's namespaces are named (a sandbox host's agent mount namespace) and becomes a
root shell in the guest's network and UTS namespaces, as `guests.run_in` runs its commands.
No Django here (host side).
"""

import json
import os
import sys

from workers.host.guests import NamespaceGuest, exec_prefix


def main(argv):
    spec = NamespaceGuest.from_dict(json.loads(argv[1]))
    prefix = exec_prefix(spec)
    env = {"TERM": "xterm-256color", "HOME": "/root", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "USER": "root"}
    rc = ["--rcfile", argv[2]] if len(argv) > 2 else ["--norc"]
    os.execvpe(prefix[0], [*prefix, "/bin/bash", *rc, "-i"], env)


if __name__ == "__main__":
    main(sys.argv)
