"""A pystorm Bolt that splits sentences into words (auto-anchored, auto-acked), and raises
once on a sentence holding "boom" (pystorm then reports the error and exits; the runtime
restarts it and the input replays). On a sentence holding "hang" it hangs once, answering
nothing (the runtime kills it after topology.subprocess.timeout.secs, restarts it, and the
inputs it held replay)."""
import os
import time

from pystorm import Bolt


class Split(Bolt):
    def initialize(self, conf, context):
        self.marker_dir = conf.get("pystorm.marker.dir")

    def process(self, tup):
        sentence = tup.values[0]
        if "boom" in sentence and self.marker_dir:
            marker = os.path.join(self.marker_dir, "boom")
            if not os.path.exists(marker):
                open(marker, "w").close()
                raise ValueError("boom in %r" % sentence)
        if "hang" in sentence and self.marker_dir:
            marker = os.path.join(self.marker_dir, "hang")
            if not os.path.exists(marker):
                open(marker, "w").close()
                time.sleep(3600)
        for word in sentence.split():
            self.emit([word])


if __name__ == "__main__":
    Split().run()
