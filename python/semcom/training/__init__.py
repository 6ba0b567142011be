"""Training-side code (PyTorch). Nothing on the transmit/receive path imports this package."""
