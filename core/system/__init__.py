"""Files, processes and the terminal: run folders and a TensorFlow import that keeps fd 2 quiet."""
