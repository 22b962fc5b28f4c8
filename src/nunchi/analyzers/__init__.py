"""nunchi.analyzers."""
