"""The qualtrics connector: golden files both ways, callback vectors, the fake Qualtrics API."""
