"""MNIST from the first source that works, and the input pipeline that feeds the compiled step."""
