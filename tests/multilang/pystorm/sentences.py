"""A pystorm ReliableSpout: emits `pystorm.sentences` numbered sentences with ids, and
re-emits the ones that fail (pystorm keeps them for up to max_fails attempts)."""
from pystorm import ReliableSpout


class Sentences(ReliableSpout):
    def initialize(self, conf, context):
        self.total = int(conf.get("pystorm.sentences", 50))
        self.n = 0
        self.hang = bool(conf.get("pystorm.hang", False))

    def next_tuple(self):
        if self.n < self.total:
            # Sentence 7 makes the split bolt raise (once), sentence 11 hang (once) when
            # pystorm.hang is set.
            if self.n == 7:
                words = "boom the cow %d"
            elif self.n == 11 and self.hang:
                words = "hang the cow %d"
            else:
                words = "the cow jumped over the moon %d"
            self.emit([words % self.n], tup_id="s%d" % self.n)
            self.n += 1


if __name__ == "__main__":
    Sentences().run()
