"""The model, optimisers, in-graph instrumentation and the compiled training loop; it only emits records."""
