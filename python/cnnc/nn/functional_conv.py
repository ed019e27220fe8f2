"""cnnc.nn.functional: the conv family's functions. Filled in by its op family."""
__all__ = []
