"""Projects: a user's folders of room photos (usually one listing each)."""
