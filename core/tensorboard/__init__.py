"""TensorBoard: event files written from the record stream, logs read back into a History, the board."""
