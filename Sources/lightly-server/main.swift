print("lightly-server: not yet wired")
