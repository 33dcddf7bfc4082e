"""Data sources read from files a user supplies (never downloaded): :mod:`wirelessrl.data.mnist`."""
