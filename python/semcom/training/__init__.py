"""Training-side code (PyTorch), ONNX export and int8 quantisation. Nothing on the transmit/receive path
imports this package."""
