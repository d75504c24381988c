"""The data plane: one implementation of every API call, behind both the gRPC and REST adapters."""
