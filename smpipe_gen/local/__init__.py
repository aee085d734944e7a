"""Local runner: executes the rendered definition on this machine, without Docker or AWS."""
