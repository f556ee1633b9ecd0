"""Images: uploads, restaging, downloads and status events of staged photos."""
