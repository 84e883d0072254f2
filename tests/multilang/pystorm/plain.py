"""A plain pystorm Spout: emits `pystorm.plain` sentences without ids (untracked), then
nothing."""
from pystorm import Spout


class Plain(Spout):
    def initialize(self, conf, context):
        self.left = int(conf.get("pystorm.plain", 20))

    def next_tuple(self):
        if self.left > 0:
            self.left -= 1
            self.emit(["a plain sentence %d" % self.left])


if __name__ == "__main__":
    Plain().run()
