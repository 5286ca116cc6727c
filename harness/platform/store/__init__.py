"""Bundle files kept by their SHA-256."""
