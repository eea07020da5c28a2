print("sampling-bench: not yet written")
