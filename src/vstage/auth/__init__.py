"""Who is calling: dev login, Auth0 access tokens, the web session cookie."""
