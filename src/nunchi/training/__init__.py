"""Training and export scripts that build the analyzers' artifacts (torch lives only here)."""
