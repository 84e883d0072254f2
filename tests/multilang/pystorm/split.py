"""A pystorm Bolt that splits sentences into words (auto-anchored, auto-acked), and raises
once on a sentence holding "boom" (pystorm then reports the error and exits; the runtime
restarts it and the input replays)."""
import os

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
        for word in sentence.split():
            self.emit([word])


if __name__ == "__main__":
    Split().run()
