"""The typeform connector: golden files both ways, signature vectors, the fake consumer."""
