"""cnnc.nn.functional: the norm family's functions. Filled in by its op family."""
__all__ = []
