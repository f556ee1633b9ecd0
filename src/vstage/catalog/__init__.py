"""The room types and styles clients can choose, served from the staging engine's catalog."""
