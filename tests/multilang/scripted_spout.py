#!/usr/bin/env python3
"""A scripted multi-lang spout for the protocol tests: emits N numbered sentences with string
ids, replays the ones that fail, asks for task ids on its first emit, reports one error, and
answers every command with sync, speaking Storm's JSON protocol by hand (no pystorm)."""
import json
import os
import sys
import time


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\nend\n")
    sys.stdout.flush()


def read():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(2)
        line = line.rstrip("\n")
        if line == "end":
            break
        lines.append(line)
    return json.loads("\n".join(lines))


hello = read()
open(os.path.join(hello["pidDir"], str(os.getpid())), "w").close()
send({"pid": os.getpid()})
total = int(hello["conf"].get("scripted.sentences", 20))
next_n = 0
replay = []
first = True

while True:
    msg = read()
    command = msg["command"]
    if command == "next":
        if replay:
            n = replay.pop(0)
        elif next_n < total:
            n = next_n
            next_n += 1
        else:
            time.sleep(0.001)
            send({"command": "sync"})
            continue
        emit = {"command": "emit", "id": "s-%d" % n, "tuple": ["sentence %d" % n]}
        if first:
            send(emit)  # need_task_ids defaults to true: the runtime answers with task ids
            ids = read()
            assert isinstance(ids, list), ids
            send({"command": "log", "msg": "first emit went to tasks %s" % ids, "level": 2})
            send({"command": "error", "msg": "scripted spout error"})
            first = False
        else:
            emit["need_task_ids"] = False
            send(emit)
    elif command == "fail":
        replay.append(int(msg["id"].split("-")[1]))
    elif command in ("ack", "activate", "deactivate"):
        pass
    send({"command": "sync"})
