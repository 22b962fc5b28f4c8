"""nunchi.apps."""
