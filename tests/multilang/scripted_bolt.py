#!/usr/bin/env python3
"""A scripted multi-lang bolt for the protocol conformance tests: speaks Storm's JSON protocol
by hand (no pystorm), and does what each input sentence's first word says, to drive every
command in both directions and every malformed case the runtime must survive."""
import json
import os
import sys
import time


def write(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def send(msg, split=False):
    frame = json.dumps(msg) + "\nend\n"
    if split:  # a frame written in pieces: the reader must join them
        for i in range(0, len(frame), 3):
            write(frame[i:i + 3])
    else:
        write(frame)


# --linger: on end of input, stay alive (as a hung script would) instead of exiting, so a
# test can see that the supervisor kills what a dead worker left.
LINGER = "--linger" in sys.argv[1:]


def read():
    lines = []
    while True:
        line = sys.stdin.readline()
        if not line:
            if LINGER:
                time.sleep(3600)
            sys.exit(2)
        line = line.rstrip("\n")
        if line == "end":
            break
        lines.append(line)
    return json.loads("\n".join(lines))


hello = read()
open(os.path.join(hello["pidDir"], str(os.getpid())), "w").close()
send({"pid": os.getpid()})
send({"command": "log", "msg": "handshake: component %s task %d" % (
    hello["context"]["componentid"], hello["context"]["taskid"]), "level": 2})
# Task-id arrays come in emit order, behind any tuples already written to us: while waiting
# for one, tuples and heartbeats are kept for later.
queued = []


def read_task_ids():
    while True:
        msg = read()
        if isinstance(msg, list):
            return msg
        queued.append(msg)


# die, hang and fail act once per topology run (a marker file each), so the replay succeeds.
marker_dir = hello["conf"].get("scripted.marker.dir")


def first_time(verb):
    if not marker_dir:
        return True
    path = os.path.join(marker_dir, verb)
    if os.path.exists(path):
        return False
    open(path, "w").close()
    return True


while True:
    msg = queued.pop(0) if queued else read()
    if msg.get("stream") == "__heartbeat":
        send({"command": "sync"})
        continue
    tid = msg["id"]
    words = msg["tuple"][0].split()
    verb = words[0]
    if verb == "die" and first_time(verb):
        sys.exit(3)
    if verb == "hang" and first_time(verb):
        time.sleep(3600)
    if verb == "blank":
        write("\n\n")
    if verb == "garbage":
        write("this is not json\nend\n")
    if verb == "unknown":
        send({"command": "dance"})
    if verb == "ackunknown":
        send({"command": "ack", "id": "123456789"})
    if verb == "error":
        send({"command": "error", "msg": "scripted error"})
    if verb == "fail" and first_time(verb):
        send({"command": "fail", "id": tid})
        continue
    for w in words:
        emit = {"command": "emit", "anchors": [tid], "tuple": [w]}
        if verb != "needids":
            emit["need_task_ids"] = False
        send(emit, split=(verb == "split"))
        if verb == "needids":
            ids = read_task_ids()
            send({"command": "log", "msg": "task ids %s" % ids, "level": 1})
    send({"command": "ack", "id": tid})
