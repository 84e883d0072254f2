"""Counts words (each task sees its share of the words through a fields grouping) and emits
each word's running count: a plain pystorm Bolt."""
from collections import Counter

from pystorm import Bolt


class WordCount(Bolt):
    def initialize(self, conf, context):
        self.counts = Counter()

    def process(self, tup):
        word = tup.values[0]
        self.counts[word] += 1
        self.emit([word, self.counts[word]])


if __name__ == "__main__":
    WordCount().run()
