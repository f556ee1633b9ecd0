"""Jobs as their owners see them: the status of the work on one of their images."""
