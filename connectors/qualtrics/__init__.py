"""The qualtrics connector."""
