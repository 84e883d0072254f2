"""A pystorm BatchingBolt: counts words per tick (it needs tick tuples), emitting each word's
count in the batch, anchored to the batch's tuples, which it acks after the batch."""
from pystorm import BatchingBolt


class Count(BatchingBolt):
    ticks_between_batches = 1

    def group_key(self, tup):
        return tup.values[0]

    def process_batch(self, key, tups):
        self.emit([key, len(tups)])


if __name__ == "__main__":
    Count().run()
