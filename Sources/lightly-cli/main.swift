print("lightly-cli: not yet wired")
