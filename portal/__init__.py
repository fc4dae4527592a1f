"""The Wi-Fi captive-portal node: splash, terms, gateway adapter, analytics."""
