"""Python code generated from the .proto files in proto/; regenerate with
`python -m service.protos.generate`, never edit it by hand.

The modules live where their .proto path says (`blockserve/v1/inspection.proto` is compiled as
`service/protos/blockserve/v1/inspection.proto`), so their imports of each other resolve as
`service.protos.blockserve.v1...` with no change to sys.path. See generate.py for why.
"""
