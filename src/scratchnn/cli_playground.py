"""The `playground` command: serve the web playground until Ctrl-C."""
import json
import sys
import threading

DEFAULT_PORT = 8765


def add_commands(commands, make_command) -> None:
    """Add `playground` to the CLI's sub-commands (see cli_inspect)."""
    from .cli import _bounded

    playground = make_command(
        commands, "playground", "serve the web playground on this machine",
        "Start a local web server where scratchnn trains small networks on "
        "2-D datasets while a page in the browser shows them learning. "
        "Prints the URL on stdout and serves until Ctrl-C, which stops it "
        "cleanly with exit status 0. It listens on 127.0.0.1 only unless "
        "--host says otherwise, and reads or writes no file for a request.",
    )
    playground.add_argument("--host", default="127.0.0.1",
                            help="address to listen on; anything but "
                                 "loopback lets other machines in")
    playground.add_argument("--port", type=_bounded(int, 0, 65536),
                            default=DEFAULT_PORT,
                            help="port to listen on; 0 picks a free one")
    playground.set_defaults(run=cmd_playground)


def cmd_playground(args, console) -> int:
    from .playground.server import PlaygroundServer, _is_loopback

    if not _is_loopback(args.host):
        print(f"scratchnn: warning: --host {args.host} is not loopback; "
              f"anyone who can reach it can use the playground",
              file=sys.stderr)
    try:
        server = PlaygroundServer((args.host, args.port))
    except OSError as err:
        print(f"scratchnn: error: cannot listen on {args.host}:{args.port}: "
              f"{err.strerror or err}; choose another --port (0 picks a "
              f"free one)", file=sys.stderr)
        return 1

    if args.json:
        console.result(json.dumps({"url": server.url}))
    else:
        console.result(server.url)
    sys.stdout.flush()
    console.note("serving; press Ctrl-C to stop")
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        console.note("stopping")
    finally:
        server.stop()
    return 0
