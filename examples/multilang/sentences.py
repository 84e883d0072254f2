"""Emits sentences, each with an id so its tree is tracked: a pystorm ReliableSpout, which
re-emits a sentence whose tree failed or timed out. `sentences.total` in the topology's
config bounds how many (default: no bound)."""
import itertools

from pystorm import ReliableSpout

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class Sentences(ReliableSpout):
    def initialize(self, conf, context):
        self.total = int(conf.get("sentences.total", 0))
        self.ids = itertools.count()

    def next_tuple(self):
        n = next(self.ids)
        if self.total and n >= self.total:
            return
        self.emit([SENTENCES[n % len(SENTENCES)]], tup_id=n)


if __name__ == "__main__":
    Sentences().run()
