"""The browser's surface: the sign-in pages of the authorization endpoint and logout."""
