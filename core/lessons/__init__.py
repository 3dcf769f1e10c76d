"""Side lessons of the tf.data part: the six shuffle/batch/repeat orderings and pipeline speed."""
