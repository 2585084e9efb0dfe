"""Container images: references, platforms, manifests, the OCI distribution client
(:mod:`~lockpin.image.registry`), resolving a reference to digests
(:mod:`~lockpin.image.resolve`), reading a base image's layers and the Dockerfile
parser and rewriter."""
