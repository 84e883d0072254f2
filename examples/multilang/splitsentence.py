"""Splits each sentence into words: a plain pystorm Bolt (auto-anchored emits, auto-ack)."""
from pystorm import Bolt


class SplitSentence(Bolt):
    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
