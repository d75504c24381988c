"""The gRPC adapter: TensorFlow Serving's services, health and reflection, over grpc.aio."""
