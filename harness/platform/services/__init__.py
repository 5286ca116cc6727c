"""What the platform does, apart from how it is asked (web page, API call or admin command)."""
