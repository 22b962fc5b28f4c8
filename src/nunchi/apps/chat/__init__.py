"""The live chat guard app: watch a broadcast's chat and flag what needs a moderator."""
